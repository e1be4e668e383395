type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** A small element builder: attributes (on… as listeners), then children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function replace(target: Element, ...children: Array<Child | Child[]>): void {
  target.replaceChildren(
    ...(children.flat().filter((c) => c !== null && c !== undefined && c !== false) as Array<Node | string>).map((c) =>
      typeof c === 'number' ? String(c) : c,
    ),
  );
}

/** A number people read, the exact value on hover and in data-value for machines. */
export function figure(text: string, exactText: string, value: string | number): HTMLElement {
  return h('span', { class: 'figure', title: exactText, 'data-value': value }, text);
}

export function loading(label = 'Loading…'): HTMLElement {
  return h(
    'p',
    { class: 'state state-loading', role: 'status' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    label,
  );
}

export function empty(message: string): HTMLElement {
  return h('p', { class: 'state state-empty' }, message);
}

export function failure(error: unknown, retry?: () => void): HTMLElement {
  const message = error instanceof Error ? error.message : String(error);
  return h(
    'div',
    { class: 'state state-error', role: 'alert' },
    h('strong', {}, 'Could not load this: '),
    message,
    retry ? h('button', { type: 'button', class: 'link', onclick: () => retry() }, 'Try again') : null,
  );
}

/** Renders `load` into `target` with loading, error and retry states. */
export async function section<T>(
  target: HTMLElement,
  load: () => Promise<T>,
  render: (data: T) => Node | Node[],
): Promise<void> {
  replace(target, loading());
  try {
    const data = await load();
    replace(target, render(data));
  } catch (error) {
    replace(
      target,
      failure(error, () => void section(target, load, render)),
    );
  }
}
