#!/usr/bin/env python3
"""Reads what the report writers wrote, with independent parsers, and prints the facts test_report.c checks.

  report_check.py json FILE          totals and one tab-separated line per procedure (strings JSON-encoded)
  report_check.py svg FILE           well-formedness (xml.etree), frame count, every frame's <title>
  report_check.py pprof FILE PROTO   gunzip + `protoc --decode`, then sample types, value sums, functions
Exits non-zero (with the reason on stderr) when the input does not parse."""
import gzip, json, subprocess, sys, os, xml.etree.ElementTree as ET

def enc(s):
    return json.dumps(s, ensure_ascii=True)

def do_json(path, *_):
    with open(path, 'rb') as f:
        d = json.loads(f.read().decode('utf-8'))  # strict: invalid UTF-8 fails here
    print('target=' + enc(d['target']))
    for k in ('duration_s', 'freq_hz', 'ncpus', 'total_samples', 'idle_samples', 'offcpu_total_ns'):
        print('%s=%s' % (k, d[k]))
    print('nprocs=%d' % len(d['procedures']))
    for p in d['procedures']:
        print('proc\t%s\t%s\t%s\t%d\t%.2f\t%.2f\t%d' % (enc(p['name']), p['space'], enc(p['object']), p['samples'],
                                                   p['pct_all'], p['pct_nonidle'], p['offcpu_ns']))

def do_svg(path, *_):
    root = ET.parse(path).getroot()
    ns = '{http://www.w3.org/2000/svg}'
    assert root.tag == ns + 'svg', root.tag
    w = float(root.get('width'))
    frames = [g for g in root.iter(ns + 'g') if g.get('class') == 'f']
    print('frames=%d' % len(frames))
    for g in frames:
        r = g.find(ns + 'rect')
        x, rw = float(r.get('x')), float(r.get('width'))
        if x < 0 or rw <= 0 or x + rw > w + 0.5:
            sys.exit('frame outside the drawing: x=%s width=%s' % (x, rw))
        t = g.find(ns + 'text').text or ''
        print('title\t%s\t%s\t%s' % (enc(g.find(ns + 'title').text), r.get('fill'), enc(t)))

def parse_text(lines):
    """protobuf text format (as protoc --decode prints it) into nested dicts of lists."""
    stack = [{}]
    for ln in lines:
        ln = ln.strip()
        if not ln:
            continue
        if ln == '}':
            stack.pop()
        elif ln.endswith('{'):
            d = {}
            stack[-1].setdefault(ln[:-1].strip(), []).append(d)
            stack.append(d)
        else:
            k, v = ln.split(':', 1)
            v = v.strip()
            v = json.loads(v) if v.startswith('"') else (v == 'true' if v in ('true', 'false') else int(v))
            stack[-1].setdefault(k, []).append(v)
    return stack[0]

def do_pprof(path, proto):
    with open(path, 'rb') as f:
        raw = gzip.decompress(f.read())
    out = subprocess.run(['protoc', '--decode=perftools.profiles.Profile', '--proto_path=' + os.path.dirname(proto),
                          os.path.basename(proto)], input=raw, capture_output=True, check=True)
    # protoc escapes non-ASCII bytes in strings as octal; names in the tests are ASCII
    p = parse_text(out.stdout.decode('ascii').splitlines())
    st = p['string_table']
    assert st[0] == '', 'string_table[0] must be empty'
    print('sample_types=' + ','.join('%s/%s' % (st[v.get('type', [0])[0]], st[v.get('unit', [0])[0]])
                                     for v in p['sample_type']))
    print('period=%d' % p.get('period', [0])[0])
    samples = p.get('sample', [])
    print('nsamples=%d' % len(samples))
    n = len(p['sample_type'])
    sums = [0] * n
    for s in samples:
        vals = s.get('value', [])
        assert len(vals) == n, 'sample with %d values, want %d' % (len(vals), n)
        for i, v in enumerate(vals):
            sums[i] += v
    print('sums=' + ','.join(map(str, sums)))
    # what pprof's Profile.CheckValid insists on: nonzero unique ids, references that resolve
    for table in ('mapping', 'location', 'function'):
        ids = [e.get('id', [0])[0] for e in p.get(table, [])]
        assert 0 not in ids and len(set(ids)) == len(ids), table + ' ids must be nonzero and unique'
    loc_ids = {x['id'][0] for x in p.get('location', [])}
    for s in samples:
        for l in s.get('location_id', []):
            assert l in loc_ids, 'sample location %d missing' % l
    for f in p.get('function', []):
        assert 0 <= f.get('name', [0])[0] < len(st), 'function name index out of string_table'
    funcs = {f['id'][0]: st[f.get('name', [0])[0]] for f in p.get('function', [])}
    maps = {m['id'][0]: st[m.get('filename', [0])[0]] for m in p.get('mapping', [])}
    locs = {}
    for l in p.get('location', []):
        locs[l['id'][0]] = (funcs[l['line'][0]['function_id'][0]], maps[l['mapping_id'][0]])
    print('functions=' + ','.join(sorted(set(funcs.values()))))
    # the leaf function and object of the heaviest sample, and its comm label
    if samples:
        top = max(samples, key=lambda s: (s['value'][0], s['value'][-1]))
        labels = {st[l['key'][0]]: (st[l['str'][0]] if 'str' in l else l.get('num', [0])[0]) for l in top.get('label', [])}
        print('top=%s@%s comm=%s frames=%d' % (locs[top['location_id'][0]] + (labels.get('comm'), len(top['location_id']))))

if __name__ == '__main__':
    {'json': do_json, 'svg': do_svg, 'pprof': do_pprof}[sys.argv[1]](*sys.argv[2:])
