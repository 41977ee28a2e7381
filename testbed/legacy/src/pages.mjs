// HTML pages of the stand-in: the app shell of GET / and GET /nanopore (a
// loading spinner; the real content is a React island that calls tRPC) and
// a 404 page in the look of Astro's default one.

function escapeHtml(text) {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** appShell answers a page route with the static shell and its spinner. */
export function appShell(title) {
  const html = `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">`
    + `<meta name="viewport" content="width=device-width, initial-scale=1.0">`
    + `<title>${escapeHtml(title)}</title>`
    + `<style>.loading{display:flex;align-items:center;justify-content:center;min-height:100vh}`
    + `.spinner{width:48px;height:48px;border:4px solid #e5e7eb;border-top-color:#2563eb;`
    + `border-radius:50%;animation:spin 1s linear infinite}`
    + `@keyframes spin{to{transform:rotate(360deg)}}</style></head>`
    + `<body><div id="app"><div class="loading" role="status" aria-label="Loading">`
    + `<div class="spinner"></div><span class="sr-only">Loading Nanopore Tracking...</span>`
    + `</div></div></body></html>`;
  return new Response(html, { status: 200, headers: { 'content-type': 'text/html' } });
}

/** notFoundPage is the 404 HTML page served for unknown paths and unsupported methods. */
export function notFoundPage(pathname) {
  const html = `<!doctype html>
<html lang="en">
	<head>
		<meta charset="UTF-8">
		<title>404: Not Found</title>
		<style>
			:root { --gray-10: hsl(258, 7%, 10%); --orange: #ff5d01; }
			html, body { margin: 0; padding: 0; background: var(--gray-10); color: #fff;
				font-family: system-ui, sans-serif; }
			.center { display: flex; flex-direction: column; justify-content: center;
				align-items: center; height: 100vh; width: 100vw; }
			.statusCode { color: var(--orange); }
		</style>
	</head>
	<body>
		<main class="center">
			<h1><span class="statusCode">404: </span> <span class="statusMessage">Not found</span></h1>
			<pre>Path: ${escapeHtml(pathname)}</pre>
		</main>
	</body>
</html>`;
  return new Response(html, { status: 404, headers: { 'content-type': 'text/html' } });
}
