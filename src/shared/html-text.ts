import { convert } from 'html-to-text';

/**
 * HTML to readable text: paragraphs and line breaks kept, entities decoded, links as `text [url]`,
 * images dropped (a received mail keeps an inline image as an attachment instead), tables as
 * lines. For a received mail's HTML-only body and an imported message that has only HTML.
 */
export function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true, ignoreHref: false } },
      { selector: 'style', format: 'skip' },
      { selector: 'script', format: 'skip' },
    ],
  }).trim();
}
