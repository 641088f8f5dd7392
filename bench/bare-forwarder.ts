/**
 * The floor under the proxy: a bare Bun server that passes each request's body to the upstream and its answer
 * back (streamed), with nothing else — no key, no budget, no usage row. The proxy benchmark runs it beside the
 * proxy so the runtime's own cost per hop is printed, and what the proxy adds over it.
 *
 *   bun bench/bare-forwarder.ts <port> <upstream url>
 */
const [port, upstream] = process.argv.slice(2);
Bun.serve({
  hostname: '127.0.0.1',
  port: Number(port),
  async fetch(req) {
    const res = await fetch(`${upstream}${new URL(req.url).pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: await req.text(),
    });
    return new Response(res.body, {
      status: res.status,
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
    });
  },
});
