import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl } from '../../src/http/redact.js';

describe('redactUrl (what of a request URL reaches the access log)', () => {
  it('drops the query string, where signatures and cursors travel', () => {
    assert.equal(redactUrl('/v1/tickets?brand_id=b&after=c2VjcmV0'), '/v1/tickets');
    assert.equal(redactUrl('/v1/tickets/tick_1'), '/v1/tickets/tick_1');
  });

  it('masks the secret segment of signed upload and download URLs', () => {
    assert.equal(redactUrl('/v1/uploads/up_secret123?expires=1&sig=abc'), '/v1/uploads/[redacted]');
    assert.equal(redactUrl('/v1/downloads/dl_secret456/file.pdf'), '/v1/downloads/[redacted]/file.pdf');
  });
});
