// `npm run generate:sdk`: writes packages/sdk/src/openapi-types.ts from the OpenAPI document (see bin/api-types.ts).
import fs from 'node:fs';
import path from 'node:path';
import { renderSdkTypes, SDK_TYPES_FILE } from './api-types.js';

const text = await renderSdkTypes();
const before = fs.existsSync(SDK_TYPES_FILE) ? fs.readFileSync(SDK_TYPES_FILE, 'utf8') : undefined;
fs.mkdirSync(path.dirname(SDK_TYPES_FILE), { recursive: true });
fs.writeFileSync(SDK_TYPES_FILE, text);
console.log(`${path.relative(process.cwd(), SDK_TYPES_FILE)}: ${before === text ? 'already current' : 'written'}`);
