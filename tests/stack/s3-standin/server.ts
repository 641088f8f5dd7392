// TEST DOUBLE: s3rver on :9000, accepting the gateway's MinIO credentials (signatures are not checked).
import S3rver from 's3rver';

await new S3rver({
  port: 9000,
  address: '0.0.0.0',
  silent: true,
  directory: '/tmp/s3',
  allowMismatchedSignatures: true,
}).run();
console.log('s3 stand-in listening on :9000');
