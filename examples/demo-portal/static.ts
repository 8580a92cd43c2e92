// The portal's static assets, kept as strings so the demo needs no files on disk.

export const APP_CSS = `body { margin: 0; background: #e8ecf1; font: 13px Verdana, Tahoma, Arial, sans-serif; color: #222; }
a { color: #0645ad; }
.top { background: linear-gradient(#3d6ea8, #1f4b80); color: #fff; padding: 10px 16px; font-size: 20px; border-bottom: 3px solid #f0a830; }
.top .logo { font-weight: bold; letter-spacing: 2px; background: #f0a830; color: #1f4b80; padding: 0 6px; margin-right: 6px; }
.top .ver { font-size: 11px; color: #c8d8ee; margin-left: 8px; }
.nav { background: #d4dce6; padding: 6px 16px; border-bottom: 1px solid #a8b4c4; }
.nav a { font-weight: bold; text-decoration: none; }
.banner { margin: 12px 16px; padding: 8px 12px; background: #fffbe6; border: 1px solid #e0c860; }
.banner-title { font-weight: bold; color: #7a5c00; margin-bottom: 4px; }
.banner-note { font-size: 11px; color: #555; margin-top: 4px; }
table.ident th { text-align: left; font-weight: normal; color: #555; padding-right: 12px; }
table.ident td { font-family: "Courier New", monospace; }
.none { color: #999; font-style: italic; }
.content { margin: 0 16px; padding: 12px 16px; background: #fff; border: 1px solid #a8b4c4; min-height: 200px; }
h1 { font-size: 18px; color: #1f4b80; border-bottom: 1px solid #d4dce6; padding-bottom: 4px; }
.box { background: #f4f6f9; border: 1px solid #c4ccd8; padding: 8px; display: inline-block; }
table.grid { border-collapse: collapse; }
table.grid th, table.grid td { border: 1px solid #a8b4c4; padding: 3px 8px; }
table.grid th { background: #d4dce6; }
.ok { color: #1d6b1d; font-weight: bold; }
.error { color: #b00000; font-weight: bold; }
.hint { font-size: 11px; color: #666; }
.button { display: inline-block; background: #e4e8ee; border: 1px outset #a8b4c4; padding: 3px 10px; text-decoration: none; color: #222; }
.log { font-family: "Courier New", monospace; }
.footer { margin: 12px 16px; font-size: 10px; color: #777; }
`;

export const SSE_JS = `(function () {
  var status = document.getElementById('sse-status');
  var log = document.getElementById('sse-log');
  var source = new EventSource('/events');
  source.onopen = function () { status.textContent = 'connected'; };
  source.onerror = function () { status.textContent = 'disconnected (retrying)'; };
  source.addEventListener('tick', function (e) {
    var item = document.createElement('li');
    item.textContent = e.data;
    log.insertBefore(item, log.firstChild);
    while (log.children.length > 20) log.removeChild(log.lastChild);
  });
})();
`;
