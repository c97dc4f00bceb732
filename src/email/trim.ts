/**
 * Trims the quoted history and the signature from a reply's text, when they are reliably
 * recognisable; otherwise the text is left alone. Forwarded mail is never trimmed (what was
 * forwarded is the point of it). Returns the trimmed text, or undefined when nothing was trimmed.
 *
 * Recognised: Gmail and Apple Mail's "On … wrote:" line (also split over two lines), Outlook's
 * "-----Original Message-----", its underscore rule or a "From: … Sent: …" header block, a final
 * run of `>`-quoted lines, the "-- " signature separator and "Sent from my …" footers.
 */
export function trimReply(text: string): string | undefined {
  if (/^-{2,}\s*Forwarded message\s*-{2,}|^Begin forwarded message:/im.test(text)) return undefined;
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let cut = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const next = (lines[i + 1] ?? '').trim();
    const joined = `${line} ${next}`;
    if (/^On\b.{4,200}\bwrote:$/.test(line) || (/^On\b/.test(line) && /\bwrote:$/.test(next) && joined.length < 300)) {
      cut = i;
      break;
    }
    if (/^-{3,}\s*Original Message\s*-{3,}$/i.test(line)) {
      cut = i;
      break;
    }
    if (/^_{10,}$/.test(line) && /^From:/i.test(next)) {
      cut = i;
      break;
    }
    if (/^From:\s*\S/.test(line) && lines.slice(i + 1, i + 4).some((l) => /^(Sent|Date):\s*\S/.test(l.trim()))) {
      cut = i;
      break;
    }
    if (line === '--' && lines[i] === '-- ') {
      cut = i;
      break;
    }
    if (/^Sent from my \w+/i.test(line) && lines.slice(i + 1).every((l) => !l.trim())) {
      cut = i;
      break;
    }
  }
  // A trailing block of quoted lines (and blank lines between them).
  let end = cut;
  while (end > 0 && (lines[end - 1]!.startsWith('>') || !lines[end - 1]!.trim())) end--;
  if (end < cut && lines.slice(end, cut).some((l) => l.startsWith('>'))) cut = end;
  if (cut >= lines.length) return undefined;
  const trimmed = lines.slice(0, cut).join('\n').trim();
  // Nothing left but quotes: keep the whole thing rather than an empty message.
  return trimmed ? trimmed : undefined;
}
