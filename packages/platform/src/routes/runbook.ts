import { join } from 'node:path';
import { AppError, failure, openRouter, otherAnswer } from '@beacon/core';
import { createRoute } from '@hono/zod-openapi';

/** docs/runbook.md beside the packages (the service image copies it there). */
const RUNBOOK = join(import.meta.dir, '../../../../docs/runbook.md');

const page = createRoute({
  method: 'get',
  path: '/',
  responses: {
    200: otherAnswer('text/html', 'the runbook: one section per alert, its id the alert name in lower case'),
    404: failure('the runbook is not installed beside the platform'),
  },
});

/**
 * GET /docs/runbook: the runbook as a page, from the platform itself (an operator offline can open every alert's
 * runbook_url). Open like /health: it is documentation. Each section's id is its heading, as the rules link it.
 */
export function runbookRoutes() {
  let html: string | undefined;
  return openRouter().openapi(page, async (c) => {
    if (!html) {
      const file = Bun.file(RUNBOOK);
      if (!(await file.exists())) throw new AppError('not_found', 'docs/runbook.md is not installed here');
      const body = Bun.markdown
        .html(await file.text())
        .replace(
          /<h([23])>([^<]+)<\/h\1>/g,
          (_, n, text) => `<h${n} id="${text.trim().toLowerCase()}">${text}</h${n}>`,
        );
      html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Beacon runbook</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3}pre{padding:.5rem;overflow:auto}h2{border-top:1px solid #ddd;padding-top:1rem}:target{background:#fff6d5}</style>
</head><body>${body}</body></html>`;
    }
    return c.html(html);
  });
}
