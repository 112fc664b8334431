/** A tiny element builder: no framework, no innerHTML (text is always text). */

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A definition list of label/value pairs, values absent skipped. */
export function facts(pairs: Array<[string, Child]>): HTMLDListElement {
  const list = h('dl', { class: 'facts' });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === false || value === '') continue;
    append(list, h('div', {}, h('dt', {}, label), h('dd', {}, value)));
  }
  return list;
}

/** A table with a caption (screen readers announce it) and column headers. */
export function table(caption: string, headers: string[], rows: Child[][], options: { numeric?: number[] } = {}): HTMLElement {
  const numeric = new Set(options.numeric ?? []);
  const head = h('tr', {}, ...headers.map((header, index) => h('th', { scope: 'col', class: numeric.has(index) ? 'num' : undefined }, header)));
  const body = rows.map((cells) => h('tr', {}, ...cells.map((cell, index) => h('td', { class: numeric.has(index) ? 'num' : undefined }, cell))));
  // The wrapper scrolls sideways on a narrow screen instead of the whole page.
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 }, h('table', {}, h('caption', {}, caption), h('thead', {}, head), h('tbody', {}, ...body)));
}

export function notice(kind: 'error' | 'info', ...children: Child[]): HTMLElement {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

let copyCount = 0;

/** A command in a read-only field with a button that copies it. */
export function copyable(label: string, text: string): HTMLElement {
  copyCount += 1;
  const id = `copy-${copyCount}`;
  const field = h('input', { id, type: 'text', readonly: true, value: text, class: 'command', spellcheck: 'false' });
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h('button', {
    type: 'button',
    class: 'copy',
    'aria-label': `Copy: ${label}`,
    onclick: () => {
      void copyText(field).then((done) => {
        status.textContent = done ? 'Copied' : 'Select the text and copy it';
        window.setTimeout(() => (status.textContent = ''), 2500);
      });
    },
  }, 'Copy');
  return h('div', { class: 'copyable' }, h('label', { for: id }, label), h('div', { class: 'copy-row' }, field, button, status));
}

async function copyText(field: HTMLInputElement): Promise<boolean> {
  try {
    // Only in a secure context (HTTPS, or loopback); elsewhere the selection is copied the old way.
    if (navigator.clipboard !== undefined && window.isSecureContext) {
      await navigator.clipboard.writeText(field.value);
      return true;
    }
  } catch {
    // Permission refused: fall through to the selection.
  }
  field.select();
  return document.execCommand('copy');
}
