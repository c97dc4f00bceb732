/**
 * Porter (1980) English stemmer, the same algorithm SQLite's FTS5 `porter` tokenizer
 * implements, so terms stemmed here line up with terms stemmed inside SQLite.
 * Input must already be lower-case; words with characters outside a-z are returned
 * unchanged because the rules are only defined for English letters.
 */

const STEP2: Record<string, string> = {
  ational: 'ate',
  tional: 'tion',
  enci: 'ence',
  anci: 'ance',
  izer: 'ize',
  bli: 'ble',
  alli: 'al',
  entli: 'ent',
  eli: 'e',
  ousli: 'ous',
  ization: 'ize',
  ation: 'ate',
  ator: 'ate',
  alism: 'al',
  iveness: 'ive',
  fulness: 'ful',
  ousness: 'ous',
  aliti: 'al',
  iviti: 'ive',
  biliti: 'ble',
  logi: 'log',
};
const STEP3: Record<string, string> = {
  icate: 'ic',
  ative: '',
  alize: 'al',
  iciti: 'ic',
  ical: 'ic',
  ful: '',
  ness: '',
};

// Consonant/vowel sequences: m() (the "measure") is the number of VC pairs.
const c = '[^aeiou]';
const v = '[aeiouy]';
const C = `${c}[^aeiouy]*`;
const V = `${v}[aeiou]*`;
const MGR0 = new RegExp(`^(${C})?${V}${C}`); // m > 0
const MEQ1 = new RegExp(`^(${C})?${V}${C}(${V})?$`); // m = 1
const MGR1 = new RegExp(`^(${C})?${V}${C}${V}${C}`); // m > 1
const HAS_VOWEL = new RegExp(`^(${C})?${v}`);
const CVC = new RegExp(`^${C}${v}[^aeiouwxy]$`);
const DOUBLE_CONS = /([^aeiouylsz])\1$/;
const STEP2_RE = /^(.+?)(ational|tional|enci|anci|izer|bli|alli|entli|eli|ousli|ization|ation|ator|alism|iveness|fulness|ousness|aliti|iviti|biliti|logi)$/;
const STEP3_RE = /^(.+?)(icate|ative|alize|iciti|ical|ful|ness)$/;
const STEP4_RE = /^(.+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)$/;
const STEP4_ION = /^(.+?)(s|t)(ion)$/;
const ASCII_WORD = /^[a-z]+$/;

const memo = new Map<string, string>();
const MEMO_LIMIT = 50_000;

export function porterStem(word: string): string {
  if (word.length < 3 || !ASCII_WORD.test(word)) return word;
  const hit = memo.get(word);
  if (hit !== undefined) return hit;
  const out = stemUncached(word);
  // Vocabulary of a helpdesk is small; the bound only guards against adversarial input.
  if (memo.size < MEMO_LIMIT) memo.set(word, out);
  return out;
}

function stemUncached(input: string): string {
  let w = input;
  // An initial y acts as a consonant; upper-case marks it so the vowel class skips it.
  const initialY = w[0] === 'y';
  if (initialY) w = `Y${w.slice(1)}`;
  // Every pattern below captures non-optional groups, so a match has each of them (hence the `!`s), and
  // the step 2 and 3 suffixes are exactly the keys of their tables.
  let m: RegExpExecArray | null;

  // Step 1a: plurals.
  if ((m = /^(.+?)(ss|i)es$/.exec(w))) w = m[1]! + m[2]!;
  else if ((m = /^(.+?)([^s])s$/.exec(w))) w = m[1]! + m[2]!;

  // Step 1b: -eed, -ed, -ing.
  if ((m = /^(.+?)eed$/.exec(w))) {
    if (MGR0.test(m[1]!)) w = w.slice(0, -1);
  } else if ((m = /^(.+?)(ed|ing)$/.exec(w))) {
    const stem = m[1]!;
    if (HAS_VOWEL.test(stem)) {
      w = stem;
      if (/(at|bl|iz)$/.test(w)) w += 'e';
      else if (DOUBLE_CONS.test(w)) w = w.slice(0, -1);
      else if (CVC.test(w)) w += 'e';
    }
  }

  // Step 1c: y -> i when the stem has a vowel.
  if ((m = /^(.+?)y$/.exec(w)) && HAS_VOWEL.test(m[1]!)) w = `${m[1]}i`;

  // Step 2 and 3: map double suffixes to single ones.
  if ((m = STEP2_RE.exec(w)) && MGR0.test(m[1]!)) w = m[1] + STEP2[m[2]!]!;
  if ((m = STEP3_RE.exec(w)) && MGR0.test(m[1]!)) w = m[1] + STEP3[m[2]!]!;

  // Step 4: drop suffixes when m > 1.
  if ((m = STEP4_RE.exec(w))) {
    if (MGR1.test(m[1]!)) w = m[1]!;
  } else if ((m = STEP4_ION.exec(w))) {
    const stem = m[1]! + m[2]!;
    if (MGR1.test(stem)) w = stem;
  }

  // Step 5: tidy a final -e and -ll.
  if ((m = /^(.+?)e$/.exec(w))) {
    const stem = m[1]!;
    if (MGR1.test(stem) || (MEQ1.test(stem) && !CVC.test(stem))) w = stem;
  }
  if (/ll$/.test(w) && MGR1.test(w)) w = w.slice(0, -1);

  if (initialY) w = `y${w.slice(1)}`;
  return w;
}
