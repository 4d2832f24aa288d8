/* A self-contained SVG flame graph: stacks merged by prefix under "all" -> comm -> outermost ... leaf, widths
 * by value, user frames red, kernel frames orange, off-CPU (blocked) frames blue; a little embedded script
 * for click-to-zoom and search. Valid XML whatever the symbol names contain. */
#include "report/report_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/util.h"

enum kind { K_ROOT, K_COMM, K_USER, K_KERNEL, K_OFFMARK, K_OFFUSER, K_OFFKERNEL };

/* A token is a frame as the graph merges it: (rank of its name in byte order) * 8 + kind. Stacks become
 * token sequences, root first; sorted, equal prefixes are adjacent, so one sweep yields every merged frame
 * with its x and width, and siblings come out in name order as in flamegraph.pl. No tree is built. */
struct seq {
	uint32_t off, len; /* into the token pool */
	uint64_t value;
};

struct names {
	struct cw_keymap *m; /* name -> id */
	uint32_t *rank;	     /* id -> rank in byte order */
	const char **byrank;
};

static int seq_cmp(const void *a, const void *b, void *pool)
{
	const struct seq *x = a, *y = b;
	const uint32_t *t = pool, *p = t + x->off, *q = t + y->off;
	uint32_t n = x->len < y->len ? x->len : y->len;
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void color(const char *name, enum kind kind, char *buf, size_t len)
{
	uint64_t h = cw_hash_bytes(name, strlen(name), 0);
	/* three independent-ish fractions from one hash, so a function keeps its shade across the graph */
	double v1 = (h & 0xffff) / 65536.0, v2 = ((h >> 16) & 0xffff) / 65536.0;
	int r, g, b;
	switch (kind) {
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
	"n:t.substring(0,t.lastIndexOf(' (')).replace(/ \\[k\\]$/,''),t:t,tx:g.getElementsByTagName('text')[0]});"
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

struct draw {
	FILE *out;
	const struct names *nm;
	double scale, fontw;
	uint64_t total;
	int pad, fh, top;
	uint32_t maxdepth;
	bool off;
};

static void frame(const struct draw *d, const char *name, enum kind kind, uint32_t depth, uint64_t x0, uint64_t value)
{
	FILE *out = d->out;
	double w = value * d->scale;
	char col[32];
	if (w < 0.1) /* invisible */
		return;
	double x = d->pad + x0 * d->scale;
	int y = d->top + (int)(d->maxdepth - depth) * d->fh;
	fputs("<g class=\"f\"><title>", out);
	cw_xml_str(out, name, 4096);
	if (kind == K_KERNEL || kind == K_OFFKERNEL)
		fputs(" [k]", out);
	if (d->off)
		fprintf(out, " (%.3f ms, %.2f%%)</title>", value / 1e6, 100.0 * value / d->total);
	else
		fprintf(out, " (%llu sample%s, %.2f%%)</title>", (unsigned long long)value, value == 1 ? "" : "s",
			100.0 * value / d->total);
	color(name, kind, col, sizeof(col));
	fprintf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>", x, y, w,
		d->fh - 1, col);
	int chars = (int)((w - 6) / d->fontw);
	fprintf(out, "<text x=\"%.1f\" y=\"%d\">", x + 3, y + d->fh - 4);
	if (chars >= 3) {
		size_t len = strlen(name);
		if ((int)len <= chars) {
			cw_xml_str(out, name, len);
		} else {
			cw_xml_str(out, name, chars - 2);
			fputs("..", out);
		}
	}
	fputs("</text></g>\n", out);
}

static void frame_tok(const struct draw *d, uint32_t tok, uint32_t depth, uint64_t x0, uint64_t value)
{
	frame(d, d->nm->byrank[tok >> 3], (enum kind)(tok & 7), depth, x0, value);
}

int cw_report_svg(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out)
{
	const int width = 1200, pad = 10, fh = 16, top = 60, bottom = 30;
	const double fontw = 12 * 0.59; /* average glyph width of a 12px sans font */
	uint64_t period = cw_profile_period_ns(p), total = 0;
	bool off = p->has_offcpu;
	struct names nm = { .m = cw_keymap_new(1024) };
	struct cw_keymap *fids = cw_keymap_new(1024);
	uint32_t *fid_name = NULL; /* frame id -> name id */
	size_t fid_cap = 0, ntok = 0, nseq = 0;
	uint32_t maxlen = 0;

	for (size_t i = 0; i < p->nstacks; i++)
		ntok += (size_t)(p->stacks[i].nframes + 2) * (off ? 2 : 1);
	uint32_t *pool = cw_malloc((ntok + 1) * sizeof(*pool));
	struct seq *seqs = cw_malloc((p->nstacks * 2 + 1) * sizeof(*seqs));
	uint32_t off_id = cw_keymap_intern(nm.m, "[off-cpu]", 9, NULL);
	ntok = 0;

	/* pass 1: token sequences with name ids (ranks come once all names are known) */
	for (size_t i = 0; i < p->nstacks; i++) {
		const struct cw_pstack *s = &p->stacks[i];
		for (int blocked = 0; blocked <= (int)off; blocked++) {
			uint64_t v = blocked ? s->offcpu_ns : (off ? s->samples * period : s->samples);
			if (!v)
				continue;
			struct seq *q = &seqs[nseq++];
			q->off = (uint32_t)ntok;
			q->value = v;
			total += v;
			const char *comm = s->comm && *s->comm ? s->comm : "[unknown]";
			pool[ntok++] = cw_keymap_intern(nm.m, comm, strlen(comm), NULL) << 3 | K_COMM;
			if (blocked)
				pool[ntok++] = off_id << 3 | K_OFFMARK;
			for (uint32_t f = s->nframes; f-- > 0;) {
				const struct cw_pframe *fr = &s->frames[f];
				bool added;
				uint32_t id = cw_keymap_intern_frame(fids, fr, &added);
				if (added) {
					if (id >= fid_cap) {
						fid_cap = fid_cap ? fid_cap * 2 : 1024;
						fid_name = cw_realloc(fid_name, fid_cap * sizeof(*fid_name));
					}
					const char *name = fr->name ? fr->name : "[unknown]";
					fid_name[id] = cw_keymap_intern(nm.m, name, strlen(name), NULL);
				}
				enum kind k = blocked ? (fr->kernel ? K_OFFKERNEL : K_OFFUSER) : (fr->kernel ? K_KERNEL : K_USER);
				pool[ntok++] = fid_name[id] << 3 | k;
			}
			q->len = (uint32_t)(ntok - q->off);
			if (q->len > maxlen)
				maxlen = q->len;
		}
	}

	/* name ids -> ranks in byte order, then the sort that puts shared prefixes together */
	size_t nn = cw_keymap_count(nm.m);
	nm.byrank = cw_malloc((nn + 1) * sizeof(*nm.byrank));
	nm.rank = cw_malloc((nn + 1) * sizeof(*nm.rank));
	for (size_t i = 0; i < nn; i++)
		nm.byrank[i] = cw_keymap_key(nm.m, (uint32_t)i, NULL);
	qsort(nm.byrank, nn, sizeof(*nm.byrank), name_cmp);
	for (size_t i = 0; i < nn; i++) {
		size_t len = strlen(nm.byrank[i]);
		nm.rank[cw_keymap_intern(nm.m, nm.byrank[i], len, NULL)] = (uint32_t)i;
	}
	for (size_t i = 0; i < ntok; i++)
		pool[i] = nm.rank[pool[i] >> 3] << 3 | (pool[i] & 7);
	qsort_r(seqs, nseq, sizeof(*seqs), seq_cmp, pool);

	int height = top + (maxlen + 1) * fh + bottom;
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

	struct draw d = { .out = out, .nm = &nm, .scale = total ? (double)(width - 2 * pad) / (double)total : 0,
			  .fontw = fontw, .total = total, .pad = pad, .fh = fh, .top = top, .maxdepth = maxlen, .off = off };
	if (total)
		frame(&d, "all", K_ROOT, 0, 0, total);
	/* the sweep: path[] holds the open frames (depth i+1), start[] where each began */
	uint32_t *path = cw_malloc((maxlen + 1) * sizeof(*path));
	uint64_t *start = cw_malloc((maxlen + 1) * sizeof(*start)), x = 0;
	uint32_t plen = 0;
	for (size_t i = 0; i < nseq; i++) {
		const uint32_t *t = pool + seqs[i].off;
		uint32_t n = seqs[i].len, c = 0;
		while (c < n && c < plen && path[c] == t[c])
			c++;
		while (plen > c) {
			plen--;
			frame_tok(&d, path[plen], plen + 1, start[plen], x - start[plen]);
		}
		for (; plen < n; plen++) {
			path[plen] = t[plen];
			start[plen] = x;
		}
		x += seqs[i].value;
	}
	while (plen > 0) {
		plen--;
		frame_tok(&d, path[plen], plen + 1, start[plen], x - start[plen]);
	}
	fputs("</svg>\n", out);

	free(path);
	free(start);
	free(pool);
	free(seqs);
	free(fid_name);
	free(nm.byrank);
	free(nm.rank);
	cw_keymap_free(fids);
	cw_keymap_free(nm.m);
	return 0;
}
