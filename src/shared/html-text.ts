import { type SelectorDefinition, convert } from 'html-to-text';

/** What neither reading keeps: images (a received mail keeps an inline one as an attachment), styles, scripts. */
const DROPPED: SelectorDefinition[] = [
  { selector: 'img', format: 'skip' },
  { selector: 'style', format: 'skip' },
  { selector: 'script', format: 'skip' },
];

/**
 * HTML to readable text: paragraphs and line breaks kept, entities decoded, links as `text [url]`,
 * images dropped, tables as lines. For a received mail's HTML-only body and an imported message
 * that has only HTML.
 */
export function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [...DROPPED, { selector: 'a', options: { hideLinkHrefIfSameAsText: true, ignoreHref: false } }],
  }).trim();
}

/**
 * HTML as the text a one-line preview is cut from: one line per block, links by their text alone
 * (a preview has no room for addresses), the head dropped, headings and table headers in their
 * own case (html-to-text shouts them by default).
 */
export function htmlToPreviewText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [
      ...DROPPED,
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'head', format: 'skip' },
      ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
      { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
    ],
  });
}
