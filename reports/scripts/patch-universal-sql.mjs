// Makes two `SET` statements of @evidence-dev/universal-sql non-fatal. The wasm override
// (@duckdb/duckdb-wasm 1.28.0, DuckDB 0.9.1: the newest that loads without fetching extensions
// from outside) knows neither setting, and the page would stop at start-up on them.
// Idempotent: a patched statement is left alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'node_modules', '@evidence-dev', 'universal-sql', 'src', 'client-duckdb');
const statements = ['SET ieee_floating_point_ops = false;', 'SET old_implicit_casting = true;'];

for (const name of ['node.js', 'browser.js']) {
	const file = join(dir, name);
	if (!existsSync(file)) {
		console.error(`patch-universal-sql: ${file} is missing (did the pinned version change?)`);
		process.exit(1);
	}
	let text = readFileSync(file, 'utf8');
	let changed = 0;
	for (const statement of statements) {
		const fatal = `await connection.query('${statement}');`;
		// try/catch, not .catch(): the Node client's blocking connection throws synchronously.
		const tolerant = `try { await connection.query('${statement}'); } catch { /* lantern */ }`;
		const earlier = `await connection.query('${statement}').catch(() => {});`;
		if (text.includes(earlier)) text = text.replace(earlier, fatal);
		if (text.includes(tolerant)) {
			continue;
		} else if (text.includes(fatal)) {
			text = text.replace(fatal, tolerant);
			changed += 1;
		} else {
			console.error(`patch-universal-sql: ${statement} not found in ${file}`);
			process.exit(1);
		}
	}
	writeFileSync(file, text);
	console.log(`patch-universal-sql: ${name}: ${changed} statement(s) made non-fatal`);
}
