// `npm run generate:types`: writes dashboard/src/api-types.ts from the OpenAPI document (see bin/api-types.ts).
import fs from 'node:fs';
import path from 'node:path';
import { API_TYPES_FILE, renderApiTypes } from './api-types.js';

const text = await renderApiTypes();
const before = fs.existsSync(API_TYPES_FILE) ? fs.readFileSync(API_TYPES_FILE, 'utf8') : undefined;
fs.writeFileSync(API_TYPES_FILE, text);
console.log(`${path.relative(process.cwd(), API_TYPES_FILE)}: ${before === text ? 'already current' : 'written'}`);
