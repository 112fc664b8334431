/** The dashboard's places, in the URL's fragment (the page itself is always /ui/). */

export function repositoryHref(name: string): string {
  return `#/repository/${encodeURIComponent(name)}`;
}

export function manifestHref(name: string, reference: string): string {
  return `#/manifest/${encodeURIComponent(name)}/${encodeURIComponent(reference)}`;
}
