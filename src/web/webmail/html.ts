/** Small helpers for the server-rendered webmail pages. */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The webmail's Content-Security-Policy: no script at all, styles and
 * images from the node only, forms post to the node only, no framing.
 * Mail content that slipped past the sanitiser still cannot run or load
 * anything from elsewhere.
 */
export const webmailCsp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** A whole page around `body`. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Rookery</title>
<link rel="stylesheet" href="/assets/webmail.css">
</head>
<body>
${body}
</body>
</html>
`;
}

/** The stylesheet, served by the node at /assets/webmail.css. */
export const stylesheet = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.4 system-ui,sans-serif;color:#222;background:#fafafa}
a{color:#0645ad}
header.top{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between;padding:.5rem 1rem;background:#234;color:#fff}
header.top a{color:#fff}
header.top form{margin:0}
.layout{display:flex;flex-wrap:wrap}
nav.folders{flex:0 0 14rem;padding:.5rem 1rem;border-right:1px solid #ddd}
nav.folders ul{list-style:none;margin:0;padding:0}
nav.folders li{padding:.25rem 0}
main{flex:1 1 20rem;padding:.5rem 1rem;min-width:0}
table.messages{width:100%;border-collapse:collapse}
table.messages td,table.messages th{padding:.4rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
tr.unread td{font-weight:bold}
.message-body pre{white-space:pre-wrap;word-wrap:break-word;font:inherit}
.message-body .html{border:1px solid #ddd;padding:.5rem;overflow:auto}
.blocked-image{color:#777;font-style:italic}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
.actions form{margin:0}
button{font:inherit;padding:.35rem .8rem}
label{display:block;margin-top:.5rem}
input[type=text],input[type=email],input[type=password],textarea{width:100%;max-width:40rem;font:inherit;padding:.35rem}
textarea{min-height:12rem}
.error{color:#a00}
.notice{color:#060}
.login{max-width:24rem;margin:3rem auto;padding:1rem}
@media (max-width:40rem){nav.folders{flex:1 1 100%;border-right:0;border-bottom:1px solid #ddd}nav.folders li{display:inline-block;margin-right:1rem}}
`;
