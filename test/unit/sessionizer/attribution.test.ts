// Attribution rules with expected values written by hand (docs/attribution.md):
// what an event's properties say, and the channel group of utm and referrer.
import { describe, expect, it } from 'vitest';
import { attributionOf, referrerDomainOf } from '../../../src/sessionizer/attribution.ts';
import { channelGroupOf } from '../../../src/sessionizer/channel-group.ts';

const NO_UTM = { source: null, medium: null, campaign: null, term: null, content: null };

describe('attributionOf', () => {
  it('reads url, referrer and utm properties; explicit utm wins over the query', () => {
    expect(attributionOf({ url: 'https://a.example/x?utm_source=q&utm_medium=qm', referrer: 'https://r.example/', utm_source: 'explicit' })).toEqual({
      url: 'https://a.example/x?utm_source=q&utm_medium=qm',
      referrer: 'https://r.example/',
      utm: { ...NO_UTM, source: 'explicit' },
    });
  });

  it('takes utm from the url query when no utm property is set, relative urls included', () => {
    expect(attributionOf({ url: '/pricing?utm_source=news%20letter&utm_campaign=spring&utm_term=&utm_content=b+c' })).toEqual({
      url: '/pricing?utm_source=news%20letter&utm_campaign=spring&utm_term=&utm_content=b+c',
      referrer: null,
      utm: { source: 'news letter', medium: null, campaign: 'spring', term: null, content: 'b c' },
    });
  });

  it("falls back to Segment's context.page and context.campaign", () => {
    expect(
      attributionOf({ context: { page: { url: 'https://a.example/', referrer: 'https://t.co/abc' }, campaign: { name: 'launch', source: 'twitter', medium: 'social', term: 't', content: 'c' } } }),
    ).toEqual({ url: 'https://a.example/', referrer: 'https://t.co/abc', utm: { source: 'twitter', medium: 'social', campaign: 'launch', term: 't', content: 'c' } });
  });

  it('ignores blanks and non-strings, and says nothing for properties without attribution', () => {
    expect(attributionOf({ url: '  ', referrer: 42, utm_source: { a: 1 }, button: 'buy' })).toBeNull();
    expect(attributionOf(['https://a.example/'])).toBeNull();
    expect(attributionOf(null)).toBeNull();
    expect(attributionOf({ url: 'https://a.example/?q=1' })).toEqual({ url: 'https://a.example/?q=1', referrer: null, utm: null });
  });
});

describe('referrerDomainOf', () => {
  it('is the referrer host unless it is the entry url host', () => {
    expect(referrerDomainOf('https://shop.example/a', 'https://www.Google.com/search?q=x')).toBe('www.google.com');
    expect(referrerDomainOf('https://shop.example/a', 'https://shop.example/b')).toBeNull();
    expect(referrerDomainOf('https://shop.example/a', 'https://blog.shop.example/b')).toBe('blog.shop.example');
    expect(referrerDomainOf(null, 'news.ycombinator.com/item?id=1')).toBe('news.ycombinator.com');
    expect(referrerDomainOf('/relative', 'https://shop.example/b')).toBe('shop.example');
    expect(referrerDomainOf('https://shop.example/a', null)).toBeNull();
    expect(referrerDomainOf('https://shop.example/a', '$direct')).toBeNull();
    expect(referrerDomainOf('https://shop.example/a', 'android-app://com.google.android.gm/')).toBe('com.google.android.gm');
  });
});

describe('channelGroupOf (the table in docs/attribution.md)', () => {
  it.each([
    [null, null, null, 'Direct'],
    ['(direct)', '(none)', null, 'Direct'],
    ['google', 'cpc', null, 'Paid Search'],
    ['bing.com', 'paid-search', null, 'Paid Search'],
    ['facebook', 'cpc', null, 'Paid Social'],
    ['l.instagram.com', 'paid_social', null, 'Paid Social'],
    ['dv360', 'display', null, 'Display'],
    ['partner', 'cpm', null, 'Display'],
    ['somewhere', 'ppc', null, 'Other'],
    ['twitter', 'tweet', null, 'Organic Social'],
    ['forum', 'social', null, 'Organic Social'],
    ['duckduckgo', 'organic', null, 'Organic Search'],
    ['anything', 'organic', null, 'Organic Search'],
    ['newsletter', 'email', null, 'Email'],
    ['e-mail', null, null, 'Email'],
    ['partner', 'affiliate', null, 'Affiliates'],
    ['blog', 'referral', null, 'Referral'],
    ['blog', 'podcast', null, 'Other'],
    // No utm: the referrer decides.
    [null, null, 'www.google.co.uk', 'Organic Search'],
    [null, null, 'search.brave.com', 'Organic Search'],
    [null, null, 'm.facebook.com', 'Organic Social'],
    [null, null, 't.co', 'Organic Social'],
    [null, null, 'news.ycombinator.com', 'Organic Social'],
    [null, null, 'blog.example.org', 'Referral'],
    // utm wins over the referrer.
    ['newsletter', 'email', 'www.google.com', 'Email'],
  ] as const)('source %s, medium %s, referrer %s -> %s', (source, medium, referrer, group) => {
    expect(channelGroupOf(source, medium, referrer)).toBe(group);
  });
});
