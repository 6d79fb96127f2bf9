import {didYouMean, editDistance, suggestName} from '../../src/config/did-you-mean.js';

describe('suggestName', () => {
  it('suggests processes for procesess (a swapped pair costs one edit)', () => {
    expect(editDistance('procesess', 'processes')).toBe(1);
    expect(suggestName('procesess')).toBe('processes');
  });

  it('suggests aliases and long names by closeness', () => {
    expect(suggestName('wsgi-fle')).toBe('wsgi-file');
    expect(suggestName('http-sokcet')).toBe('http-socket');
    expect(suggestName('harakri')).toBe('harakiri');
  });

  it('suggests nothing for a word far from every option', () => {
    expect(suggestName('frobnicate')).toBeUndefined();
  });

  it('never suggests a one-letter alias for a long word', () => {
    expect(suggestName('pp4')).not.toBe('p');
  });

  it('formats the hint with a prefix', () => {
    expect(didYouMean('procesess', undefined, '--')).toBe(' (did you mean "--processes"?)');
    expect(didYouMean('zzzzzzzz')).toBe('');
  });
});
