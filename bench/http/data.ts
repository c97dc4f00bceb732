// The synthetic helpdesk both databases are filled with (NexusCore's through its ticket service,
// the ideal server's with plain INSERTs), so that the two hold the same tickets: 20 brands,
// ~600-byte create bodies (subject, description, priority, tags, customer, metadata), some tickets
// assigned at creation and some moved to pending/resolved after an agent's reply.
// Deterministic: a seeded PRNG, so two runs with the same N hold the same data.

export const BRANDS = 20;
export const brandId = (k: number): string => `brand_bench${String(k).padStart(2, '0')}`;

/** mulberry32: small, fast, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const WORDS = (
  'account access login password reset email invoice billing charge refund card payment declined order ' +
  'shipping delivery tracking package damaged missing return exchange subscription cancel upgrade plan error ' +
  'crash slow mobile app android browser update sync export import report dashboard integration webhook ' +
  'notification settings profile address phone verify locked support urgent help question feature request ' +
  'bug issue problem unable wrong duplicate late discount coupon tax receipt'
).split(' ');
export const TAGS = ['billing', 'login', 'mobile', 'refund', 'shipping', 'vip', 'bug', 'feature', 'api', 'password-reset'];
export const PRIORITIES = ['low', 'normal', 'normal', 'high', 'urgent'] as const;
const CHANNELS = ['email', 'web', 'chat', 'api', 'phone'];
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'ja-JP'];
const NAMES = ['Casey Jones', 'Alex Kim', 'Sam Patel', 'Robin Meyer', 'Jo Tanaka', 'Charlie Dubois'];
export const AGENTS = Array.from({ length: 40 }, (_, i) => `agent${i}@support.example.com`);

/** A generator of ticket inputs; call `next(i)` for ticket i, in order. */
export interface CreateBody {
  brand_id: string;
  subject: string;
  description: string;
  customer: { email: string; name: string };
  priority: (typeof PRIORITIES)[number];
  tags: string[];
  metadata: Record<string, string>;
  assigned_to?: string;
}

export interface SeedTicket {
  /** Brand index, 0..BRANDS-1. */
  k: number;
  body: CreateBody;
  followUp: { reply: string; status: 'pending' | 'resolved' } | null;
}

export function ticketGenerator(seed = 0x12345678) {
  const rand = seededRandom(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const sentence = (n: number): string => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  return {
    rand,
    sentence,
    /**
     * Ticket i: its brand index, the create body as the API takes it, and what happens after:
     * `followUp` is null (stays as created), or an agent reply then a status change.
     */
    next(i: number): SeedTicket {
      const k = i % BRANDS;
      const tags = Array.from({ length: Math.floor(rand() * 4) }, () => pick(TAGS));
      const body: CreateBody = {
        brand_id: brandId(k),
        subject: sentence(4 + Math.floor(rand() * 5)).replace(/^./, (c) => c.toUpperCase()),
        description: sentence(25 + Math.floor(rand() * 30)),
        customer: { email: `customer${Math.floor(rand() * 200_000)}@example.com`, name: pick(NAMES) },
        priority: pick(PRIORITIES),
        tags: [...new Set(tags)],
        metadata: { channel: pick(CHANNELS), customer_id: `cust_${String(i).padStart(8, '0')}`, locale: pick(LOCALES) },
      };
      // 20 % assigned when created; 25 % answered by an agent and then set pending or resolved.
      // What stays waiting in the queues (open, unassigned) is ~60 % of the tickets.
      if (rand() < 0.2) body.assigned_to = pick(AGENTS);
      const r = rand();
      const followUp: SeedTicket['followUp'] =
        r < 0.15
          ? { reply: sentence(15 + Math.floor(rand() * 20)), status: 'pending' }
          : r < 0.25
            ? { reply: sentence(15 + Math.floor(rand() * 20)), status: 'resolved' }
            : null;
      return { k, body, followUp };
    },
  };
}
