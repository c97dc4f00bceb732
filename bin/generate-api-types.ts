// `npm run generate:types`: writes dashboard/src/api-types.ts and the SDK's packages/sdk/src/openapi-types.ts
// from the OpenAPI document (see bin/api-types.ts).
import fs from 'node:fs';
import path from 'node:path';
import { API_TYPES_FILE, loadOpenApiDocument, renderApiTypes, renderSdkTypes, SDK_TYPES_FILE } from './api-types.js';

const document = await loadOpenApiDocument();
for (const [file, text] of [
  [API_TYPES_FILE, await renderApiTypes(document)],
  [SDK_TYPES_FILE, await renderSdkTypes(document)],
] as const) {
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  console.log(`${path.relative(process.cwd(), file)}: ${before === text ? 'already current' : 'written'}`);
}
