/** A tiny element builder: text goes in as text nodes, never as HTML, so content cannot inject markup. */
type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

export function button(label: string, onClick: () => void, attrs: Attrs = {}, ...extra: Child[]): HTMLButtonElement {
  const el = h('button', { type: 'button', ...attrs }, label, ...extra);
  el.addEventListener('click', onClick);
  return el;
}
