/**
 * The fast path of parseXml (fast-xml.ts) against saxes (parseXmlReference): for every input the two must
 * give the same tree or the same error. The fast path may give up (saxes then decides), never disagree.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseXml, parseXmlReference, XmlError } from '../../../src/packages/shared/safe-xml.js';
import { parseXmlFast } from '../../../src/packages/shared/fast-xml.js';

const PIDF = 'urn:ietf:params:xml:ns:pidf';

function same(text: string, limits?: { maxDepth?: number; maxElements?: number }): void {
  const fast = parseXml(text, limits);
  const ref = parseXmlReference(text, limits);
  if (ref instanceof XmlError) {
    assert.ok(fast instanceof XmlError, `saxes rejects (${ref.message}) but the fast path accepted ${JSON.stringify(text)}`);
    assert.equal(fast.code, ref.code);
    assert.equal(fast.message, ref.message);
  } else {
    assert.deepEqual(fast, ref, `trees differ for ${JSON.stringify(text)}`);
  }
}

/** The fast path itself took the document (did not hand it to saxes) and agrees. */
function fastTakes(text: string): void {
  assert.notEqual(parseXmlFast(text, 32, 5000), undefined, `fast path gave up on ${JSON.stringify(text)}`);
  same(text);
}

const BENCH_PUBLISH = `<?xml version="1.0" encoding="UTF-8"?>\r
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:u1@example.com">\r
 <tuple id="t1">\r
  <status><basic>open</basic></status>\r
  <contact priority="0.8">sip:u1@example.com</contact>\r
  <timestamp>2026-11-23T10:00:00Z</timestamp>\r
 </tuple>\r
 <dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities><dm:note>Back soon</dm:note></dm:person>\r
</presence>\r
`;

describe('fast XML path', () => {
  test('takes the documents publishers send, with the same tree as saxes', () => {
    fastTakes(BENCH_PUBLISH);
    fastTakes(`<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${PIDF}" entity="sip:a@b"><tuple id="d1"><status><basic>closed</basic></status></tuple></presence>`);
    fastTakes(`<p:presence xmlns:p="${PIDF}" entity='sip:a@b'><p:tuple id="x"><p:status><p:basic>open</p:basic></p:status><p:note xml:lang="en">Tom &amp; Jerry &lt;3 &#x263A; &#65;</p:note></p:tuple></p:presence>`);
    fastTakes('<a xmlns="urn:x"><b xmlns=""><c/></b><d xmlns:q="urn:q" q:attr="1" attr="2"/></a>');
    fastTakes('<a v="x\ty\r\nz\rw&#10;" w = "1" ></a >');
    fastTakes('<a>line1\r\nline2\rline3\n</a>');
    fastTakes('<a>  <b/>  text  <c/> </a>');
    fastTakes('<a>é ü 漢字 \ud83d\ude00 \u0085 \u2028</a>');
    fastTakes('<?xml version=\'1.0\' standalone="yes" ?><a/>\n\n');
  });

  test('hands everything else to saxes, which decides', () => {
    const cases = [
      '', ' ', 'text', '<a>', '</a>', '<a></b>', '<a/><b/>', '<a/>x', 'x<a/>', '&#32;<a/>', '<a/>&amp;',
      '<a><!-- c --></a>', '<a><![CDATA[<x>]]></a>', '<?pi x?><a/>', '<!DOCTYPE a><a/>', '\ufeff<a/>',
      '<?xml version="1.1"?><a/>', ' <?xml version="1.0"?><a/>', '<?xml version="1.0" encoding="8bit"?><a/>',
      '<?xml-stylesheet href="x"?><a/>', '<a b="1" b="2"/>', '<a xmlns:p="urn:x" xmlns:q="urn:x" p:b="1" q:b="2"/>',
      '<a xmlns:p=""/>', '<a xmlns:xml="http://www.w3.org/XML/1998/namespace"/>', '<a xmlns:p="http://www.w3.org/2000/xmlns/"/>',
      '<a xmlns="http://www.w3.org/XML/1998/namespace"/>', '<p:a/>', '<a p:b="1"/>', '<xmlns:a/>', '<xml:a/>',
      '<a b="<"/>', '<a b="&bogus;"/>', '<a>&bogus;</a>', '<a>&#X41;</a>', '<a>&#0;</a>', '<a>&#xD800;</a>', '<a>&#x110000;</a>',
      '<a>&amp</a>', '<a>]]></a>', '<a>]]&gt;</a>', '<a>] ]></a>', '<a>\u0001</a>', '<a>\ufffe</a>', '<a>\ud800</a>', '<a>\udc00x</a>',
      '<a b="\u0001"/>', '<a b=1/>', '<a b="1"c="2"/>', '<a/ >', '<a:b:c/>', '<a:/>', '<:a/>', '<1a/>', '<a\u00e9/>',
      '<a b="1">', '<a><b></a></b>', '<a xmlns:p="urn:x"><p:b/></a><p:c/>', '<a b="x', '<a b', '<a',
    ];
    for (const c of cases) same(c);
  });

  test('limits: the fast path gives up at the limit and saxes reports it', () => {
    same('<a><b><c/></b></a>', { maxDepth: 2 });
    same('<a><b><c/></b></a>', { maxDepth: 3 });
    same('<a><b/><b/><b/></a>', { maxElements: 3 });
    same('<a><b/><b/><b/></a>', { maxElements: 4 });
  });

  test('random well-formed documents: the fast path takes them and agrees with saxes', () => {
    const ncname = fc.constantFrom('a', 'b', 'tuple', 'x-y', 'z.1', '_u', 'A9');
    const prefix = fc.constantFrom('', '', 'p', 'q');
    const textPiece = fc.constantFrom('x', ' ', '\n', '\r\n', '\r', '\t', '&amp;', '&lt;', '&gt;', '&quot;', '&apos;', '&#65;', '&#x263a;', 'é', ']]', ']', '>', '\ud83d\ude00', '"', "'");
    const text = fc.array(textPiece, { maxLength: 6 }).map((a) => a.join(''));
    const attrValue = fc.array(fc.constantFrom('v', ' ', '\t', '\n', '\r\n', '&amp;', '&#10;', '&#9;', '>', 'é', "'"), { maxLength: 5 }).map((a) => a.join(''));
    const ws = fc.constantFrom(' ', '  ', '\n', '\r\n', '\t');
    const quote = fc.constantFrom('"', "'");
    type Tree = { prefix: string; name: string; decls: Array<[string, string]>; attrs: Array<[string, string, string]>; kids: Array<Tree | string> };
    const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
      tree: fc.record({
        prefix,
        name: ncname,
        decls: fc.array(fc.tuple(fc.constantFrom('', 'p', 'q'), fc.constantFrom('urn:p', 'urn:q', ' urn:s ', '')), { maxLength: 2 }),
        attrs: fc.array(fc.tuple(fc.constantFrom('', 'xml', 'p'), ncname, attrValue), { maxLength: 3 }),
        kids: fc.array(fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, tie('tree')), { maxLength: 4 }),
      }) as fc.Arbitrary<Tree>,
    }));
    const render = (t: Tree, q: string, sp: string): string => {
      const seen = new Set<string>();
      let out = `<${t.prefix === '' ? '' : `${t.prefix}:`}${t.name}`;
      for (const [p, uri] of t.decls) {
        const n = p === '' ? 'xmlns' : `xmlns:${p}`;
        if (seen.has(n)) continue;
        seen.add(n);
        out += `${sp}${n}=${q}${uri}${q}`;
      }
      for (const [p, n, v] of t.attrs) {
        const qn = p === '' ? n : `${p}:${n}`;
        if (seen.has(qn)) continue;
        seen.add(qn);
        out += `${sp}${qn}=${q}${v.split(q).join(q === '"' ? '&quot;' : '&apos;')}${q}`;
      }
      if (t.kids.length === 0) return `${out}/>`;
      out += '>';
      for (const k of t.kids) out += typeof k === 'string' ? k : render(k, q, sp);
      return `${out}</${t.prefix === '' ? '' : `${t.prefix}:`}${t.name}>`;
    };
    let valid = 0;
    let taken = 0;
    fc.assert(
      fc.property(tree, quote, ws, fc.boolean(), (t, q, sp, decl) => {
        // The root binds p and q, so that most documents are namespace-well-formed.
        const root: Tree = { ...t, decls: [['p', 'urn:p'], ['q', 'urn:q'], ...t.decls.filter(([p]) => p === '')] };
        const doc = `${decl ? '<?xml version="1.0" encoding="UTF-8"?>\n' : ''}${render(root, q, sp)}\n`;
        if (!(parseXmlReference(doc) instanceof XmlError)) {
          valid++;
          if (parseXmlFast(doc, 32, 5000) !== undefined) taken++;
        }
        same(doc);
      }),
      { numRuns: 3000 },
    );
    // What it gives up on among well-formed documents: only "]]>" spelled with a CR between, and the like.
    assert.ok(valid > 1000 && taken > valid * 0.95, `fast path took ${taken} of ${valid} well-formed documents`);
  });

  test('random fragments, mostly malformed: never a different answer from saxes', () => {
    const piece = fc.constantFrom(
      '<a>', '</a>', '<b/>', '<p:c xmlns:p="urn:p">', '</p:c>', '<p:d/>', 'text', ' ', '\r\n', '&amp;', '&#x41;', '&#X41;',
      '&nope;', '&', ']]>', ']]', '>', '<', '<a b="1" b="2">', '<a b="x&#10;y" c=\'z\'>', '<e xmlns="">', '</e>',
      '<?xml version="1.0"?>', '<!-- c -->', '<![CDATA[x]]>', '<!DOCTYPE a>', '\u0001', '\ud800', '\ud83d\ude00', 'é', '<a xml:lang="en">',
      '<q xmlns:p="">', '<r xmlns:p="urn:p" p:x="1" xmlns:s="urn:p" s:x="2">', '</r>', '<a b=c>', '<a\tb="1"\n/>',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => same(parts.join(''))),
      { numRuns: 5000 },
    );
  });
});
