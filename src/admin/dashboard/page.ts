/**
 * The dashboard's HTML and CSS. Static text: the page holds no data, so it may be served without a token;
 * everything it shows comes from the authenticated API. Script and styles are separate files so that the
 * Content-Security-Policy can forbid inline code.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>presenced</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<header>
  <h1>presenced</h1>
  <span id="conn" class="conn" data-state="connecting" title="Live event stream">connecting</span>
</header>
<form id="login" hidden>
  <label for="token">API token</label>
  <input id="token" type="password" autocomplete="off" placeholder="Bearer token from api.tokens">
  <button type="submit">Sign in</button>
  <p id="login-error" class="error"></p>
</form>
<main id="main">
  <section aria-labelledby="counts-h" class="counts-section">
    <h2 id="counts-h">By event package</h2>
    <table id="counts"><thead><tr><th>Event</th><th>Presentities</th><th>Subscriptions</th></tr></thead><tbody></tbody></table>
  </section>
  <section aria-labelledby="pres-h">
    <h2 id="pres-h">Presentities <input id="filter" type="search" placeholder="Filter by URI" aria-label="Filter presentities by URI"></h2>
    <ul id="presentities" class="cards"></ul>
    <p id="empty" class="muted">No presentity has published yet.</p>
  </section>
  <section aria-labelledby="feed-h">
    <h2 id="feed-h">Live events</h2>
    <ol id="feed" class="feed"></ol>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `:root {
  --bg: #f6f7f9; --fg: #1d2330; --muted: #6b7280; --card: #fff; --line: #e3e6eb;
  --open: #16a34a; --busy: #f59e0b; --closed: #dc2626; --unknown: #9ca3af;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #111418; --fg: #e7e9ee; --muted: #9aa3b2; --card: #1a1f26; --line: #2a313b; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); font-size: 15px; line-height: 1.4; }
header { display: flex; align-items: center; justify-content: space-between; padding: .75rem 1rem;
  background: var(--card); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
h1 { font-size: 1.15rem; margin: 0; }
h2 { font-size: 1rem; margin: 1.25rem 0 .5rem; display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; }
main { padding: 0 1rem 2rem; max-width: 1100px; margin: 0 auto; display: grid; gap: 0 1.5rem;
  grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); grid-template-areas: "counts counts" "pres feed"; }
main > section:nth-child(1) { grid-area: counts; }
main > section:nth-child(2) { grid-area: pres; }
main > section:nth-child(3) { grid-area: feed; }
@media (max-width: 760px) {
  main { grid-template-columns: minmax(0, 1fr); grid-template-areas: "counts" "pres" "feed"; }
}
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); }
td:not(:first-child), th:not(:first-child) { text-align: right; }
.cards { list-style: none; margin: 0; padding: 0; display: grid; gap: .6rem; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .75rem; min-width: 0; }
.card .top { display: flex; align-items: center; gap: .5rem; }
.uri { font-weight: 600; overflow-wrap: anywhere; }
.lamp { flex: none; width: .9rem; height: .9rem; border-radius: 50%; background: var(--unknown);
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--unknown) 25%, transparent); }
.lamp[data-state="open"] { background: var(--open); box-shadow: 0 0 0 3px color-mix(in srgb, var(--open) 25%, transparent); }
.lamp[data-state="busy"] { background: var(--busy); box-shadow: 0 0 0 3px color-mix(in srgb, var(--busy) 25%, transparent); }
.lamp[data-state="closed"] { background: var(--closed); box-shadow: 0 0 0 3px color-mix(in srgb, var(--closed) 25%, transparent); }
.status { color: var(--muted); font-size: .85rem; margin: .2rem 0 0 1.4rem; overflow-wrap: anywhere; }
.chips { margin: .35rem 0 0 1.4rem; display: flex; flex-wrap: wrap; gap: .3rem; }
.chip { font-size: .75rem; border: 1px solid var(--line); border-radius: 999px; padding: 0 .45rem; color: var(--muted); }
.watchers { margin: .4rem 0 0 1.4rem; padding: 0; list-style: none; font-size: .82rem; }
.watchers li { overflow-wrap: anywhere; }
.watchers li::before { content: "\\25C9  "; color: var(--unknown); }
.watchers li[data-status="active"]::before { color: var(--open); }
.watchers li[data-status="pending"]::before { color: var(--busy); }
.feed { list-style: none; margin: 0; padding: 0; font-size: .82rem; max-height: 70vh; overflow: auto;
  background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
.feed li { padding: .35rem .6rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.feed time { color: var(--muted); margin-right: .4rem; font-variant-numeric: tabular-nums; }
.feed .type { font-weight: 600; margin-right: .35rem; }
.muted { color: var(--muted); }
.conn { font-size: .8rem; padding: .1rem .5rem; border-radius: 999px; border: 1px solid var(--line); color: var(--muted); }
.conn[data-state="live"] { color: var(--open); border-color: var(--open); }
.conn[data-state="error"] { color: var(--closed); border-color: var(--closed); }
#filter { font: inherit; font-weight: normal; padding: .2rem .5rem; border: 1px solid var(--line); border-radius: 6px;
  background: var(--card); color: var(--fg); min-width: 0; flex: 1 1 10rem; max-width: 20rem; }
form { max-width: 420px; margin: 2rem auto; padding: 1rem; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  display: grid; gap: .5rem; }
input, button { font: inherit; padding: .4rem .6rem; }
.error { color: var(--closed); margin: 0; min-height: 1.2em; }
`;
