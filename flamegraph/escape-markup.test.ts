import { expect, test } from 'vitest';
import { escapeMarkup } from './index.js';

test('escapeMarkup escapes markup and quotes, and replaces characters XML forbids', () => {
  expect(escapeMarkup(`a<b> & "c" 'd'`)).toBe('a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;');
  expect(escapeMarkup('x\u0000y\u001bz\ttab\nline')).toBe('x\uFFFDy\uFFFDz\ttab\nline');
  expect(escapeMarkup('&amp;')).toBe('&amp;amp;');
});
