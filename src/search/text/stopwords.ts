/**
 * English stopwords for the keyword side. Deliberately short: negations ("not", "no",
 * "can't") and question words that separate support intents ("why" vs "how") are kept,
 * because in ticket text they carry meaning that BM25 idf alone would not restore.
 */
// biome-ignore format: a word list, packed by hand to read as one block
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'the', 'and', 'or', 'but', 'if', 'then', 'so', 'of', 'at', 'by', 'for', 'with',
  'about', 'to', 'from', 'in', 'on', 'into', 'onto', 'as', 'is', 'am', 'are', 'was', 'were',
  'be', 'been', 'being', 'do', 'does', 'did', 'doing', 'have', 'has', 'had', 'having',
  'i', 'me', 'my', 'mine', 'myself', 'we', 'us', 'our', 'ours', 'you', 'your', 'yours',
  'he', 'him', 'his', 'she', 'her', 'hers', 'it', 'its', 'they', 'them', 'their', 'theirs',
  'this', 'that', 'these', 'those', 'there', 'here', 'what', 'which', 'who', 'whom',
  'would', 'could', 'should', 'will', 'shall', 'may', 'might', 'must', 'can',
  'just', 'very', 'too', 'also', 'some', 'any', 'such', 'own', 'same', 'than', 'both',
  'each', 'few', 'more', 'most', 'other', 'only', 'up', 'out', 'over', 'again', 'further',
  'once', 'please', 'hi', 'hello', 'hey', 'thanks', 'thank', 'get', 'got', 's', 't', 'm',
  're', 've', 'll', 'd',
]);

export function isStopword(token: string): boolean {
  return ENGLISH_STOPWORDS.has(token);
}
