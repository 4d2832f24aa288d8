/* A self-contained SVG flame graph: stacks merged by prefix under "all" -> comm -> outermost ... leaf, widths
 * by value, user frames red, kernel frames orange, off-CPU (blocked) frames blue; a little embedded script
 * for click-to-zoom and search. Valid XML whatever the symbol names contain. */
#include "report/report_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/util.h"

enum kind { K_ROOT, K_COMM, K_USER, K_KERNEL, K_OFFMARK, K_OFFUSER, K_OFFKERNEL };

struct node {
	uint32_t parent;
	uint32_t depth;
	const char *name;
	enum kind kind;
	uint64_t value;
	double x; /* in value units from the left edge */
};

struct tree {
	struct cw_keymap *names; /* name -> id, so that a node's key is two numbers */
	struct cw_u64map kids;	 /* (parent, name id, kind) -> node */
	struct node *v;
	size_t n, cap;
};

static uint32_t child(struct tree *t, uint32_t parent, const char *name, enum kind kind)
{
	uint32_t nid = cw_keymap_intern(t->names, name, strlen(name), NULL);
	uint64_t key = (uint64_t)parent << 32 | (uint64_t)nid << 3 | kind;
	uint32_t *v = cw_u64map_get(&t->kids, key);
	if (v)
		return *v - 1;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->v = cw_realloc(t->v, t->cap * sizeof(*t->v));
	}
	uint32_t i = (uint32_t)t->n++;
	t->v[i] = (struct node){ .parent = parent, .depth = t->v[parent].depth + 1, .name = name, .kind = kind };
	cw_u64map_put(&t->kids, key, i);
	return i;
}

static void add_stack(struct tree *t, const struct cw_pstack *s, bool off, uint64_t value)
{
	uint32_t at = child(t, 0, s->comm && *s->comm ? s->comm : "[unknown]", K_COMM);
	t->v[0].value += value;
	t->v[at].value += value;
	if (off) {
		at = child(t, at, "[off-cpu]", K_OFFMARK);
		t->v[at].value += value;
	}
	for (uint32_t i = s->nframes; i-- > 0;) {
		const struct cw_pframe *f = &s->frames[i];
		enum kind k = off ? (f->kernel ? K_OFFKERNEL : K_OFFUSER) : (f->kernel ? K_KERNEL : K_USER);
		at = child(t, at, f->name ? f->name : "[unknown]", k);
		t->v[at].value += value;
	}
}

static int node_cmp(const void *a, const void *b, void *arg)
{
	const struct node *v = arg;
	const struct node *x = &v[*(const uint32_t *)a], *y = &v[*(const uint32_t *)b];
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : (int)x->kind - (int)y->kind;
}

static void color(const struct node *n, char *buf, size_t len)
{
	uint64_t h = cw_hash_bytes(n->name, strlen(n->name), 0);
	/* three independent-ish fractions from one hash, so a function keeps its shade across the graph */
	double v1 = (h & 0xffff) / 65536.0, v2 = ((h >> 16) & 0xffff) / 65536.0;
	int r, g, b;
	switch (n->kind) {
	case K_USER: r = 200 + 55 * v1, g = 50 + 80 * v2, b = g; break;
	case K_KERNEL: r = 190 + 65 * v1, g = 90 + 65 * v1, b = 0; break;
	case K_OFFUSER: r = 80 + 60 * v1, g = r, b = 190 + 55 * v2; break;
	case K_OFFKERNEL: r = 40 + 40 * v1, g = 110 + 60 * v1, b = 200 + 55 * v2; break;
	case K_OFFMARK: r = 90, g = 140, b = 255; break;
	default: r = 190 + 20 * v1, g = r, b = r + 10; break;
	}
	snprintf(buf, len, "rgb(%d,%d,%d)", r, g, b);
}

/* The script keeps each frame's drawn geometry in its rect and its full name in its title. */
static const char script[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"var W=%d,P=10,FW=%.2f,frames=[],det,mat;\n"
	"function init(){det=document.getElementById('details').firstChild;"
	"mat=document.getElementById('matched').firstChild;"
	"var gs=document.getElementsByClassName('f');for(var i=0;i<gs.length;i++){var g=gs[i],r=g.getElementsByTagName('rect')[0],"
	"t=g.getElementsByTagName('title')[0].textContent;"
	"frames.push({g:g,r:r,x:+r.getAttribute('x'),w:+r.getAttribute('width'),y:+r.getAttribute('y'),"
	"n:t.substring(0,t.lastIndexOf(' (')),t:t,tx:g.getElementsByTagName('text')[0]});"
	"g.onclick=zoom.bind(null,frames[i]);g.onmouseover=(function(s){return function(){det.nodeValue=s}})(t);"
	"g.onmouseout=function(){det.nodeValue=' '}}}\n"
	"function label(f,x,w){if(!f.tx)return;var c=Math.floor((w-6)/FW),s=f.n;f.tx.setAttribute('x',x+3);"
	"f.tx.textContent=c<3?'':(s.length>c?s.substring(0,c-2)+'..':s)}\n"
	"function zoom(z){var k=(W-2*P)/z.w;for(var i=0;i<frames.length;i++){var f=frames[i],x,w;"
	"if(f.y>z.y){if(f.x>z.x+1e-6||f.x+f.w<z.x+z.w-1e-6){f.g.style.display='none';continue}x=P;w=W-2*P;"
	"f.g.style.opacity=0.6}else if(f.x<z.x-1e-6||f.x+f.w>z.x+z.w+1e-6){f.g.style.display='none';continue}"
	"else{x=P+(f.x-z.x)*k;w=f.w*k;f.g.style.opacity=1}"
	"f.g.style.display='';f.r.setAttribute('x',x);f.r.setAttribute('width',w);label(f,x,w)}}\n"
	"function unzoom(){for(var i=0;i<frames.length;i++){var f=frames[i];f.g.style.display='';f.g.style.opacity=1;"
	"f.r.setAttribute('x',f.x);f.r.setAttribute('width',f.w);label(f,f.x,f.w)}}\n"
	"function search(){var q=prompt('Search (regular expression)','');if(q===null)return;var re;"
	"try{re=new RegExp(q)}catch(e){return}var iv=[];for(var i=0;i<frames.length;i++){var f=frames[i];"
	"if(q!==''&&re.test(f.n)){if(!f.o)f.o=f.r.getAttribute('fill');f.r.setAttribute('fill','rgb(230,0,230)');"
	"iv.push([f.x,f.x+f.w])}else if(f.o){f.r.setAttribute('fill',f.o)}}"
	"iv.sort(function(a,b){return a[0]-b[0]});var s=0,e=-1;for(var i=0;i<iv.length;i++){"
	"if(iv[i][0]>=e){s+=iv[i][1]-iv[i][0];e=iv[i][1]}else if(iv[i][1]>e){s+=iv[i][1]-e;e=iv[i][1]}}"
	"mat.nodeValue=iv.length?'Matched: '+(100*s/(W-2*P)).toFixed(2)+'%%':' '}\n"
	"]]></script>\n";

int cw_report_svg(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out)
{
	struct tree t = { .names = cw_keymap_new(1024) };
	const int width = 1200, pad = 10, fh = 16, top = 60, bottom = 30;
	const double fontw = 12 * 0.59; /* average glyph width of a 12px sans font */
	uint64_t period = cw_profile_period_ns(p);
	bool off = p->has_offcpu;
	char col[32];

	cw_u64map_init(&t.kids, p->nstacks * 4);
	/* node 0 is "all" */
	t.v = cw_malloc(1024 * sizeof(*t.v));
	t.cap = 1024;
	t.n = 1;
	t.v[0] = (struct node){ .parent = UINT32_MAX, .name = "all", .kind = K_ROOT };

	for (size_t i = 0; i < p->nstacks; i++) {
		const struct cw_pstack *s = &p->stacks[i];
		uint64_t on = off ? s->samples * period : s->samples;
		if (on)
			add_stack(&t, s, false, on);
		if (off && s->offcpu_ns)
			add_stack(&t, s, true, s->offcpu_ns);
	}

	/* siblings sorted by name (as flamegraph.pl does), then x offsets parent-first: a parent's index is
	 * always smaller than its children's, so its group is laid out before theirs */
	uint32_t *ord = cw_malloc(t.n * sizeof(*ord));
	double *cursor = cw_malloc(t.n * sizeof(*cursor));
	uint32_t maxdepth = 0;
	for (size_t i = 0; i < t.n; i++) {
		ord[i] = (uint32_t)i;
		if (t.v[i].depth > maxdepth)
			maxdepth = t.v[i].depth;
	}
	qsort_r(ord + 1, t.n - 1, sizeof(*ord), node_cmp, t.v);
	t.v[0].x = 0;
	cursor[0] = 0;
	for (size_t i = 1; i < t.n; i++) {
		struct node *n = &t.v[ord[i]];
		n->x = cursor[n->parent];
		cursor[n->parent] += n->value;
		cursor[ord[i]] = n->x;
	}

	uint64_t total = t.v[0].value;
	double scale = total ? (double)(width - 2 * pad) / (double)total : 0;
	int height = top + (maxdepth + 1) * fh + bottom;
	const char *title = o->title ? o->title : (off ? "Flame Graph: on-CPU and off-CPU time" : "Flame Graph");

	fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		     "<svg version=\"1.1\" width=\"%d\" height=\"%d\" onload=\"init()\" viewBox=\"0 0 %d %d\" "
		     "xmlns=\"http://www.w3.org/2000/svg\">\n",
		width, height, width, height);
	fprintf(out, script, width, fontw);
	fprintf(out, "<style type=\"text/css\">text{font-family:Verdana,sans-serif;font-size:12px;fill:rgb(0,0,0)}"
		     ".f:hover{stroke:black;stroke-width:0.5;cursor:pointer}.b{cursor:pointer}</style>\n");
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"rgb(248,248,240)\"/>\n", width, height);
	fprintf(out, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" style=\"font-size:17px\">", width / 2);
	cw_xml_str(out, title, 200);
	fprintf(out, "</text>\n<text x=\"%d\" y=\"40\" text-anchor=\"middle\" style=\"font-size:11px\">", width / 2);
	cw_xml_str(out, p->target ? p->target : "", 120);
	fprintf(out, " \xe2\x80\x94 %.2f s, %u Hz, %llu samples; red: user, orange: kernel%s</text>\n", p->duration_s,
		p->freq_hz, (unsigned long long)p->total_samples, off ? ", blue: off-CPU (blocked)" : "");
	fprintf(out, "<text class=\"b\" x=\"%d\" y=\"22\" onclick=\"unzoom()\">Reset Zoom</text>\n", pad);
	fprintf(out, "<text class=\"b\" x=\"%d\" y=\"22\" text-anchor=\"end\" onclick=\"search()\">Search</text>\n",
		width - pad);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n", width - pad, height - 10);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", pad, height - 10);

	for (size_t i = 0; i < t.n; i++) {
		const struct node *n = &t.v[i];
		double w = n->value * scale;
		if (w < 0.1 || !total) /* invisible; its children are narrower still */
			continue;
		double x = pad + n->x * scale;
		int y = top + (maxdepth - n->depth) * fh;
		fputs("<g class=\"f\"><title>", out);
		cw_xml_str(out, n->name, 4096);
		if (n->kind == K_KERNEL || n->kind == K_OFFKERNEL)
			fputs(" [k]", out);
		if (off)
			fprintf(out, " (%.3f ms, %.2f%%)</title>", n->value / 1e6, 100.0 * n->value / total);
		else
			fprintf(out, " (%llu sample%s, %.2f%%)</title>", (unsigned long long)n->value,
				n->value == 1 ? "" : "s", 100.0 * n->value / total);
		color(n, col, sizeof(col));
		fprintf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>", x, y, w,
			fh - 1, col);
		int chars = (int)((w - 6) / fontw);
		fprintf(out, "<text x=\"%.1f\" y=\"%d\">", x + 3, y + fh - 4);
		if (chars >= 3) {
			size_t len = strlen(n->name);
			if ((int)len <= chars) {
				cw_xml_str(out, n->name, len);
			} else {
				cw_xml_str(out, n->name, chars - 2);
				fputs("..", out);
			}
		}
		fputs("</text></g>\n", out);
	}
	fputs("</svg>\n", out);

	free(ord);
	free(cursor);
	free(t.v);
	cw_u64map_fini(&t.kids);
	cw_keymap_free(t.names);
	return 0;
}
