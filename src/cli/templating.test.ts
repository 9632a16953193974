import { describe, expect, it } from 'vitest';
import { parseVars, renderTemplate } from './templating.js';

describe('apply templating', () => {
  it('fills {{ key }} placeholders, with or without spaces, and dotted names', () => {
    const vars = parseVars(['name=web', 'port=8080', 'svc.tag=web_default_svc_80']);
    expect(renderTemplate('name: {{ name }}\nport: {{port}}\ntag: {{  svc.tag }}', vars)).toBe('name: web\nport: 8080\ntag: web_default_svc_80');
  });

  it('renders a placeholder without a value as empty, like mustache', () => {
    expect(renderTemplate('a: "{{ missing }}"', {})).toBe('a: ""');
  });

  it('keeps values containing "="', () => {
    expect(parseVars(['token=a=b='])).toEqual({ token: 'a=b=' });
  });

  it('rejects a pair without a key', () => {
    expect(() => parseVars(['=x'])).toThrow('invalid variable "=x"');
    expect(() => parseVars(['novalue'])).toThrow('expected key=value');
  });
});
