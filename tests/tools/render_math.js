// Render every math block of Markdown files with KaTeX, as Zenn, Qiita and Jupyter-like viewers do.
// Usage: node tests/tools/render_math.js FILE.md ...  Prints one JSON line per file:
// {"file": ..., "blocks": N, "errors": [{"math": ..., "error": ...}]}; exit code 1 if any block failed.
"use strict";
const fs = require("fs");
const katex = require("katex");

function mathBlocks(text) {
  const blocks = [];
  const display = /\$\$([\s\S]*?)\$\$/g;
  let rest = text.replace(display, (_, tex) => { blocks.push({ tex, displayMode: true }); return " "; });
  // Inline $…$: a $ that is not escaped (\$) opens or closes; escaped dollars are words.
  let open = -1;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "\\") { i++; continue; }
    if (rest[i] === "$") {
      if (open < 0) { open = i; } else { blocks.push({ tex: rest.slice(open + 1, i), displayMode: false }); open = -1; }
    }
  }
  if (open >= 0) blocks.push({ tex: rest.slice(open), displayMode: false, unclosed: true });
  return blocks;
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const errors = [];
  const blocks = mathBlocks(fs.readFileSync(file, "utf8"));
  for (const block of blocks) {
    if (block.unclosed) { errors.push({ math: block.tex.slice(0, 80), error: "unclosed $" }); continue; }
    try {
      katex.renderToString(block.tex, { displayMode: block.displayMode, throwOnError: true, strict: "error" });
    } catch (error) {
      errors.push({ math: block.tex, error: String(error.message || error) });
    }
  }
  if (errors.length) failed = true;
  console.log(JSON.stringify({ file, blocks: blocks.length, errors }));
}
process.exit(failed ? 1 : 0);
