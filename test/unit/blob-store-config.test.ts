import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('NEXUS_BLOB_URL', () => {
  it('keeps attachments under the data dir by default, or in the folder a file:// URL names', () => {
    assert.deepEqual(loadConfig({ NEXUS_DATA_DIR: '/srv/nexus' }).blobStore, { kind: 'disk', root: '/srv/nexus/attachments' });
    assert.deepEqual(loadConfig({ NEXUS_BLOB_URL: 'file:///mnt/blobs' }).blobStore, { kind: 'disk', root: '/mnt/blobs' });
    assert.deepEqual(loadConfig({ NEXUS_BLOB_URL: 'file://./blobs' }).blobStore, { kind: 'disk', root: path.resolve('blobs') });
  });

  it('reads s3://<bucket>/<prefix> with the NEXUS_S3_* settings', () => {
    assert.deepEqual(
      loadConfig({ NEXUS_BLOB_URL: 's3://acme-helpdesk/prod/attachments/', NEXUS_S3_ENDPOINT: 'https://minio.internal:9000/', NEXUS_S3_FORCE_PATH_STYLE: '1' })
        .blobStore,
      { kind: 's3', bucket: 'acme-helpdesk', prefix: 'prod/attachments/', endpoint: 'https://minio.internal:9000', region: 'us-east-1', forcePathStyle: true },
    );
    // On AWS itself the region comes from the SDK's chain unless NEXUS_S3_REGION says.
    assert.deepEqual(loadConfig({ NEXUS_BLOB_URL: 's3://acme-helpdesk' }).blobStore, {
      kind: 's3',
      bucket: 'acme-helpdesk',
      prefix: '',
      endpoint: undefined,
      region: undefined,
      forcePathStyle: false,
    });
    const withRegion = loadConfig({ NEXUS_BLOB_URL: 's3://acme-helpdesk/x', NEXUS_S3_REGION: 'eu-west-3' }).blobStore;
    assert.equal(withRegion.kind === 's3' && withRegion.region, 'eu-west-3');
  });

  it('refuses what it cannot use with a ConfigError naming the variable, never echoing credentials', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ NEXUS_BLOB_URL: 'https://bucket.s3.amazonaws.com/x' }, /NEXUS_BLOB_URL: unknown scheme/],
      [{ NEXUS_BLOB_URL: 'file://' }, /NEXUS_BLOB_URL: file:\/\/ needs a folder/],
      [{ NEXUS_BLOB_URL: 's3://' }, /NEXUS_BLOB_URL: "" is not a valid bucket name/],
      [{ NEXUS_BLOB_URL: 's3://Upper_Case/x' }, /NEXUS_BLOB_URL: "Upper_Case" is not a valid bucket name/],
      [{ NEXUS_BLOB_URL: 's3://a..b/x' }, /NEXUS_BLOB_URL/],
      [{ NEXUS_BLOB_URL: 's3://bucket/a/../b' }, /NEXUS_BLOB_URL: "a\/..\/b" is not a usable key prefix/],
      [{ NEXUS_BLOB_URL: 's3://bucket//x' }, /NEXUS_BLOB_URL/],
      [{ NEXUS_BLOB_URL: 's3://AKIAEXAMPLE:s3cr3t@bucket/x' }, /NEXUS_BLOB_URL: credentials do not belong in the URL/],
      [{ NEXUS_BLOB_URL: 's3://bucket/x', NEXUS_S3_ENDPOINT: 'minio:9000' }, /NEXUS_S3_ENDPOINT/],
      [{ NEXUS_BLOB_URL: 's3://bucket/x', NEXUS_S3_FORCE_PATH_STYLE: 'yes' }, /NEXUS_S3_FORCE_PATH_STYLE/],
      [{ NEXUS_BLOB_URL: 's3://bucket/x', NEXUS_S3_REGION: 'EU West' }, /NEXUS_S3_REGION/],
    ];
    for (const [env, pattern] of cases) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message) && !e.message.includes('s3cr3t'),
        JSON.stringify(env),
      );
    }
  });
});
