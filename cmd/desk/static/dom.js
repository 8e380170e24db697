// Desk console: the two DOM helpers every part of the page uses.

export const $ = (sel, root = document) => root.querySelector(sel);

// el creates an element: attrs sets attributes, "class" the class name and
// "text" the text; children (elements or strings, null skipped) follow.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}
