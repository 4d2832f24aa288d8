// Runs the script embedded in a crosswalk SVG flame graph against a minimal stand-in DOM (node, no browser):
//   node report_svg_js.js FILE.svg CLICK_PREFIX SEARCH_REGEX
// clicks the first frame whose <title> starts with CLICK_PREFIX, prints every frame's state, then searches.
'use strict';
const fs = require('fs');
const [file, click, query] = process.argv.slice(2);
const svg = fs.readFileSync(file, 'utf8');
const script = svg.match(/<!\[CDATA\[([\s\S]*?)\]\]>/)[1];
const unxml = s => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
	.replace(/&amp;/g, '&');
function el(attrs, text) {
	return { a: attrs, textContent: text, style: {},
		getAttribute(k) { return this.a[k]; }, setAttribute(k, v) { this.a[k] = String(v); } };
}
const gs = [];
const re = /<g class="f"><title>(.*?)<\/title><rect x="([^"]*)" y="([^"]*)" width="([^"]*)"[^>]* fill="([^"]*)"[^>]*\/><text x="([^"]*)"[^>]*>(.*?)<\/text><\/g>/g;
for (let m; (m = re.exec(svg));) {
	const r = el({ x: m[2], y: m[3], width: m[4], fill: m[5] }), t = el({}, unxml(m[1])), tx = el({ x: m[6] }, unxml(m[7]));
	gs.push({ r, t, tx, style: {}, getElementsByTagName(n) { return [n === 'rect' ? r : n === 'title' ? t : tx]; } });
}
const ids = { details: { firstChild: { nodeValue: ' ' } }, matched: { firstChild: { nodeValue: ' ' } } };
const document = { getElementsByClassName: () => gs, getElementById: i => ids[i] };
const prompt = () => query;
const api = new Function('document', 'prompt', script + '\nreturn {init, search, unzoom};')(document, prompt);
api.init();
const target = gs.find(g => g.t.textContent.startsWith(click));
if (!target) { console.error('no frame titled ' + click); process.exit(1); }
target.onclick();
for (const g of gs)
	console.log(['frame', g.t.textContent, g.style.display === 'none' ? 'hidden' : 'shown', (+g.r.a.x).toFixed(1),
		(+g.r.a.width).toFixed(1), g.tx.textContent].join('\t'));
api.search();
console.log('matched\t' + ids.matched.firstChild.nodeValue);
api.unzoom();
console.log('unzoomed\t' + (+target.r.a.x).toFixed(1) + '\t' + (+target.r.a.width).toFixed(1));
