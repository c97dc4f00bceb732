import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createRouteTable } from '../../src/http/allow.js';

it('a path owned by a static route is found although the router sent it to a parameter route, however it is written', () => {
  const table = createRouteTable();
  table.add('/v1/tickets', ['GET', 'POST']);
  table.add('/v1/tickets/search', ['POST']);
  table.add('/v1/tickets/bulk', ['POST']);
  table.add('/v1/tickets/:ticket_id', ['GET', 'PATCH']);
  table.add('/v1/tickets/:ticket_id/messages', ['GET', 'POST']);
  const owner = (url: string, pattern = '/v1/tickets/:ticket_id') => table.ownerInstead(url, pattern)?.url;

  for (const url of ['/v1/tickets/search', '/v1/tickets/search/', '/v1/tickets/search?q=1', '/v1/tickets/%73earch', '/v1/tickets/se%61rch?x=%20']) {
    assert.equal(owner(url), '/v1/tickets/search', url);
  }
  assert.equal(owner('/v1/tickets/bulk'), '/v1/tickets/bulk');
  // Ticket ids, including ones that contain or are near the static words: the parameter route's own.
  for (const url of ['/v1/tickets/tick_01abc', '/v1/tickets/tick_search', '/v1/tickets/searches', '/v1/tickets/bulky?x=/bulk', '/v1/tickets/tick_%41']) {
    assert.equal(owner(url), undefined, url);
  }
  // A static route has nothing preferred over it.
  assert.equal(owner('/v1/tickets', '/v1/tickets'), undefined);
  assert.equal(owner('/v1/tickets/search/messages', '/v1/tickets/:ticket_id/messages'), undefined);
});
