// Desk console: the settings form's rules besides the default one, the
// exempt template categories, and what the shadow rules would have blocked.
// Rules are read and written in the settings event's terms (name, max,
// window_seconds or calendar + time_zone, categories, scope, mode); the
// console server validates them.

import { $, el } from './dom.js';
import { windowParts } from './format.js';

let categories = []; // the template categories the console knows
let onEdit = () => {};

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const cards = () => [...document.querySelectorAll('#rules > .rule')];
const title = (c) => c[0].toUpperCase() + c.slice(1);

// initRules sets up the rules editor: the known categories, the time zone
// suggestions, the add button; edited is called on every change.
export function initRules(cats, edited) {
  categories = cats;
  onEdit = edited;
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : [];
  for (const z of new Set(['UTC', browserZone(), ...zones])) $('#zones').append(el('option', { value: z }));
  $('#exempt-options').addEventListener('change', renumber);
  $('#add-rule').addEventListener('click', () => {
    const li = addRule({});
    li.querySelector('.rule-name').focus();
    onEdit();
  });
}

// checks returns a checkbox per category of the known ones and of chosen,
// chosen ones ticked.
function checks(cls, chosen = []) {
  return [...new Set([...categories, ...chosen])].map((c) =>
    el('label', { class: 'check' }, el('input', { type: 'checkbox', class: cls, value: c }), ` ${title(c)}`));
}

function setChecked(root, cls, chosen = []) {
  for (const b of root.querySelectorAll(`.${cls}`)) b.checked = chosen.includes(b.value);
}

// addRule appends a rule card filled from r (a rule as the settings carry
// it); an empty r is a new rule: rolling, 7 days, every category.
function addRule(r) {
  const li = $('#rule-template').content.firstElementChild.cloneNode(true);
  const q = (s) => li.querySelector(s);
  q('.rule-name').value = r.name || '';
  q('.rule-max').value = r.max || '';
  q('.rule-kind').value = r.calendar || 'rolling';
  const [value, unit] = windowParts(r.window_seconds || 7 * 86400);
  q('.rule-window').value = value;
  q('.rule-unit').value = String(unit);
  q('.rule-zone').value = r.time_zone || browserZone();
  q('.rule-scope').value = r.scope || 'contact';
  q('.rule-shadow').checked = r.mode === 'shadow';
  q('.rule-cats').append(...checks('rule-cat', r.categories));
  setChecked(li, 'rule-cat', r.categories);
  li.dataset.name = r.name || ''; // as saved: what verdicts call it
  q('.rule-kind').addEventListener('change', () => syncKind(li));
  q('.rule-remove').addEventListener('click', () => {
    li.remove();
    renumber();
    onEdit();
  });
  $('#rules').append(li);
  syncKind(li);
  renumber();
  return li;
}

// syncKind shows the window inputs of a rolling rule, or the time zone of
// a calendar one.
function syncKind(li) {
  const rolling = li.querySelector('.rule-kind').value === 'rolling';
  li.querySelector('.rule-rolling').hidden = !rolling;
  li.querySelector('.rule-calendar').hidden = rolling;
}

function renumber() {
  const n = cards().length;
  cards().forEach((li, i) => {
    li.querySelector('.rule-no').textContent = `Rule ${i + 2}`;
  });
  $('#rules-empty').hidden = n > 0;
  const exempt = document.querySelectorAll('.exempt-cat:checked').length;
  $('#rules-summary').textContent = n || exempt
    ? `(${[n && `${n} rule${n > 1 ? 's' : ''}`, exempt && `${exempt} exempt`].filter(Boolean).join(', ')})`
    : '(none)';
}

// fillRules shows the rules and exempt categories in force.
export function fillRules(rules = [], exempt = []) {
  for (const li of cards()) li.remove();
  for (const r of rules) addRule(r);
  const box = $('#exempt-options');
  box.replaceChildren(...checks('exempt-cat', exempt));
  setChecked(box, 'exempt-cat', exempt);
  renumber();
  clearRuleErrors();
  // Open when there is something to see; the admin opens it to add some.
  if (rules.length || exempt.length) $('#rules-panel').open = true;
}

// readRules returns the rules and exempt categories as the form has them,
// with the errors found before asking the server (numbers that are not
// whole), as {rule, field, rule_error}.
export function readRules() {
  const errors = [];
  const rules = cards().map((li, i) => {
    const q = (s) => li.querySelector(s);
    const r = {
      name: q('.rule-name').value.trim(),
      max: Number(q('.rule-max').value),
      categories: [...li.querySelectorAll('.rule-cat:checked')].map((b) => b.value),
      scope: q('.rule-scope').value,
      mode: q('.rule-shadow').checked ? 'shadow' : 'enforce',
    };
    if (!Number.isInteger(r.max)) {
      errors.push({ rule: i, field: 'max', rule_error: 'max must be a whole number from 1 to 1000' });
      r.max = 0;
    }
    const kind = q('.rule-kind').value;
    if (kind === 'rolling') {
      r.window_seconds = Number(q('.rule-window').value) * Number(q('.rule-unit').value);
      if (!Number.isInteger(r.window_seconds)) {
        errors.push({ rule: i, field: 'window_seconds', rule_error: 'the window must be a whole number of seconds' });
        r.window_seconds = 0;
      }
    } else {
      r.calendar = kind;
      r.time_zone = q('.rule-zone').value.trim();
    }
    return r;
  });
  const exempt = [...document.querySelectorAll('.exempt-cat:checked')].map((b) => b.value);
  return { rules, exempt_categories: exempt, errors };
}

const FIELDS = {
  name: '.rule-name', max: '.rule-max', window_seconds: '.rule-window', calendar: '.rule-kind',
  time_zone: '.rule-zone', categories: '.rule-cat', scope: '.rule-scope', mode: '.rule-shadow',
};

export function clearRuleErrors() {
  for (const p of document.querySelectorAll('#settings-form .rule-error')) { p.hidden = true; p.textContent = ''; }
  for (const i of document.querySelectorAll('#settings-form .rules [aria-invalid], #exempt [aria-invalid]')) i.removeAttribute('aria-invalid');
}

// showRuleError puts a form error ({rule, field, rule_error} or, for the
// exempt categories, {field, error}) on its rule card or on the exempt
// categories. It returns false for an error about neither.
export function showRuleError(e) {
  if (e.field === 'exempt_categories') {
    const p = $('#exempt .rule-error');
    p.textContent = e.error.replace(/^quota: /, '');
    p.hidden = false;
    $('#rules-panel').open = true;
    for (const b of document.querySelectorAll('.exempt-cat')) b.setAttribute('aria-invalid', 'true');
    return true;
  }
  const li = cards()[e.rule];
  if (e.rule == null || !li) return false;
  $('#rules-panel').open = true;
  const p = li.querySelector('.rule-error');
  p.textContent = e.rule_error;
  p.hidden = false;
  const input = FIELDS[e.field] && li.querySelector(FIELDS[e.field]);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
  return true;
}

// syncRuleInputs enables the rules while the limit is on (off, none
// applies; they are kept and saved as they are).
export function syncRuleInputs(on) {
  for (const i of document.querySelectorAll('#rules input, #rules select, #add-rule, #exempt input')) i.disabled = !on;
}

// describeRules sums the rules and exemptions up for the save toast.
export function describeRules(rules, exempt) {
  const parts = [];
  const shadow = rules.filter((r) => r.mode === 'shadow').length;
  if (rules.length) parts.push(`${rules.length} more rule${rules.length > 1 ? 's' : ''}${shadow ? ` (${shadow} in shadow mode)` : ''}`);
  if (exempt.length) parts.push(`exempt: ${exempt.join(', ')}`);
  return parts.length ? ` Plus ${parts.join('; ')}.` : '';
}

// showShadowReports writes, on each shadow rule's card, what it would have
// blocked: reports maps a rule name to its text.
export function showShadowReports(reports) {
  for (const li of cards()) {
    const p = li.querySelector('.rule-report');
    const text = reports.get(li.dataset.name);
    p.hidden = !text;
    p.textContent = text || '';
  }
}
