import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { AppError, describeZodError } from './errors';

/** How a failed request part is named in a 400: `body.handle: …`, `query.wait: …`, `handle: …`. */
const PREFIX: Record<string, string> = {
  json: 'body',
  query: 'query',
  param: '',
  header: 'header',
  form: 'body',
};

/**
 * A router whose routes are declared with their request and response schemas (`createRoute`); a request
 * that does not match is a 400 in Beacon's one error shape, naming the field. `auth` guards every route of
 * this router, and only them: an unknown path still answers 404.
 */
export function openRouter(auth?: MiddlewareHandler) {
  const router = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success)
        throw new AppError(
          'bad_request',
          describeZodError(result.error, PREFIX[result.target] ?? result.target),
        );
    },
  });
  if (auth) router.use(auth);
  return router;
}

/**
 * Runs `middleware` (the audit trail's `audited(action)`) before a declared route, on that route's method and
 * path only: a GET beside a POST on the same path is not recorded as the POST.
 */
export function beforeRoute(
  router: OpenAPIHono,
  route: { method: string; getRoutingPath(): string },
  middleware: MiddlewareHandler,
) {
  router.on(route.method.toUpperCase(), route.getRoutingPath(), middleware);
}

/** Beacon's one error shape, as a declared answer. */
const errorShape = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }),
});

/** A declared JSON answer. */
export const jsonAnswer = <S extends z.ZodType>(schema: S, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/** A declared refusal in the one error shape. */
export const failure = (description: string) => jsonAnswer(errorShape, description);

/** A declared answer that is not JSON (an event stream, a page, a file): its body is not described. */
export const otherAnswer = (type: string, description: string) => ({
  content: { [type]: { schema: z.string() } },
  description,
});

/** A declared JSON request body. */
export const jsonBody = <S extends z.ZodType>(schema: S) => ({
  content: { 'application/json': { schema } },
  required: true,
});
