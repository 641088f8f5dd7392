import type { Provider } from './prices';

/** An error body in the caller's provider's own format, so official SDKs surface it properly. */
export function providerError(provider: Provider, type: string, message: string, more?: object) {
  return provider === 'openai'
    ? { error: { message, type, param: null, code: type, ...more } }
    : { type: 'error', error: { type, message, ...more } };
}

/** Beacon's kinds of failure, named as each provider names the same thing. */
export const ERROR_TYPES: Record<string, Record<Provider, string>> = {
  unauthorized: { openai: 'invalid_api_key', anthropic: 'authentication_error' },
  bad_request: { openai: 'invalid_request_error', anthropic: 'invalid_request_error' },
  upstream: { openai: 'upstream_error', anthropic: 'api_error' },
  timeout: { openai: 'timeout', anthropic: 'timeout_error' },
  rate_limited: { openai: 'rate_limit_exceeded', anthropic: 'rate_limit_error' },
  unavailable: { openai: 'service_unavailable', anthropic: 'overloaded_error' },
  not_found: { openai: 'not_found', anthropic: 'not_found_error' },
};
