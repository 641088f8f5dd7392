/** The init of a JSON POST, for `app.request(path, jsonPost(body))`. */
export const jsonPost = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** POST a JSON body to a running service. */
export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, jsonPost(body, headers));
