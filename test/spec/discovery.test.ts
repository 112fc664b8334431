import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { assertStatus, header } from '../helpers/assert-registry.js';
import { raw } from '../helpers/raw-http.js';
import { makeImage, OCI_MANIFEST, pushBlob, putManifest } from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';

/** Spec "Determining Support", "Listing Tags" and the catalog, with n/last paging; and the probes. */
const porthole = sharedPorthole();
const TAGGED = 'spec/discovery/tagged';
/** Chosen so that ASCII order differs from case-insensitive order and from push order. */
const TAGS = ['latest', 'b', 'a', 'C', '1.0', 'a-b', '_x', 'Z9'];
const ASCII_SORTED = [...TAGS].sort();
const REPOSITORIES = ['spec/discovery/cat/b', 'spec/discovery/cat/a', 'spec/discovery/cat/a/b', 'spec/discovery/cat/a-b', 'spec/discovery/cat/c'];

interface Page {
  items: string[];
  link: string | undefined;
}

async function getPage(path: string, key: 'tags' | 'repositories'): Promise<Page> {
  const response = await raw(porthole().url, { path });
  assertStatus(response, 200);
  const body = response.json() as Record<string, string[]>;
  return { items: body[key] ?? [], link: header(response, 'link') };
}

/** Follows rel="next" links from `first`, checking each page's size and the link's exact form. */
async function walkPages(first: string, key: 'tags' | 'repositories', basePath: string, n: number): Promise<string[]> {
  const seen: string[] = [];
  let path: string | undefined = first;
  for (let guard = 0; path !== undefined; guard += 1) {
    assert.ok(guard < 50, 'paging does not end');
    const page = await getPage(path, key);
    seen.push(...page.items);
    if (page.link === undefined) {
      assert.ok(page.items.length <= n);
      path = undefined;
    } else {
      assert.equal(page.items.length, n, 'a page followed by a Link must be full');
      const last = page.items[page.items.length - 1] as string;
      assert.equal(page.link, `<${basePath}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`);
      path = /^<([^>]+)>/.exec(page.link)?.[1];
    }
  }
  return seen;
}

describe('API version check and probes', () => {
  it('answers GET /v2/ with 200 and Docker-Distribution-API-Version: registry/2.0', async () => {
    const response = await raw(porthole().url, { path: '/v2/' });
    assertStatus(response, 200);
    assert.equal(header(response, 'docker-distribution-api-version'), 'registry/2.0');
  });

  for (const probe of ['/livez', '/readyz', '/startupz']) {
    it(`answers ${probe} with 200`, async () => {
      assertStatus(await raw(porthole().url, { path: probe }), 200);
    });
  }
});

describe('tags list', () => {
  before(async () => {
    const image = await makeImage(porthole().url, TAGGED);
    const query = TAGS.map((tag) => `tag=${tag}`).join('&');
    assertStatus(await putManifest(porthole().url, TAGGED, `${image.manifestDigest}?${query}`, image.manifest, OCI_MANIFEST), 201);
  });

  it('lists every tag in ASCII order, without a Link when no n is given', async () => {
    const response = await raw(porthole().url, { path: `/v2/${TAGGED}/tags/list` });
    assertStatus(response, 200);
    assert.deepEqual(response.json(), { name: TAGGED, tags: ASCII_SORTED });
    assert.equal(header(response, 'link'), undefined);
  });

  it('pages with n and a Link to the next page, which together give the whole list', async () => {
    const base = `/v2/${TAGGED}/tags/list`;
    assert.deepEqual(await walkPages(`${base}?n=3`, 'tags', base, 3), ASCII_SORTED);
    assert.deepEqual(await walkPages(`${base}?n=1`, 'tags', base, 1), ASCII_SORTED);
  });

  it('answers n=0 with an empty list and no Link', async () => {
    const page = await getPage(`/v2/${TAGGED}/tags/list?n=0`, 'tags');
    assert.deepEqual(page, { items: [], link: undefined });
  });

  it('starts after `last`, with or without n', async () => {
    const afterA = ASCII_SORTED.slice(ASCII_SORTED.indexOf('a') + 1);
    assert.deepEqual(await getPage(`/v2/${TAGGED}/tags/list?last=a`, 'tags'), { items: afterA, link: undefined });
    const two = await getPage(`/v2/${TAGGED}/tags/list?n=2&last=a`, 'tags');
    assert.deepEqual(two.items, afterA.slice(0, 2));
    assert.equal(two.link, `</v2/${TAGGED}/tags/list?n=2&last=${afterA[1]}>; rel="next"`);
  });

  it('answers an n larger than the list with the whole list and no Link', async () => {
    assert.deepEqual(await getPage(`/v2/${TAGGED}/tags/list?n=100`, 'tags'), { items: ASCII_SORTED, link: undefined });
  });

  it('answers with an empty list after the last tag', async () => {
    const last = ASCII_SORTED[ASCII_SORTED.length - 1] as string;
    assert.deepEqual(await getPage(`/v2/${TAGGED}/tags/list?n=2&last=${last}`, 'tags'), { items: [], link: undefined });
  });
});

describe('catalog', () => {
  let everything: string[];

  before(async () => {
    for (const name of REPOSITORIES) await pushBlob(porthole().url, name, Buffer.from(name));
    everything = (await getPage('/v2/_catalog', 'repositories')).items;
  });

  it('lists repositories in ASCII order', () => {
    const mine = everything.filter((name) => name.startsWith('spec/discovery/cat/'));
    assert.deepEqual(mine, [...REPOSITORIES].sort());
    assert.deepEqual(everything, [...everything].sort());
  });

  it('pages with n and Link like the tags list', async () => {
    assert.deepEqual(await walkPages('/v2/_catalog?n=2', 'repositories', '/v2/_catalog', 2), everything);
  });

  it('answers n=0 with an empty list and no Link', async () => {
    assert.deepEqual(await getPage('/v2/_catalog?n=0', 'repositories'), { items: [], link: undefined });
  });

  it('starts after `last`', async () => {
    const page = await getPage('/v2/_catalog?n=2&last=spec/discovery/cat/a', 'repositories');
    assert.deepEqual(page.items, ['spec/discovery/cat/a-b', 'spec/discovery/cat/a/b']);
  });
});
