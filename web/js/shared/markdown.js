// Messages' Markdown: the subset people type in Slack, Zulip and Discord (emphasis, strikethrough, inline code,
// code blocks, quotes, lists, links), parsed by markdown-it into tokens. Nothing here makes HTML: dom.js turns
// the tokens into DOM nodes (richText), and plainText() gives the words alone for one-line previews.
import markdownit from "/vendor/markdown-it.esm.min.mjs";

// "zero" enables nothing but paragraphs and text; what a chat message may use is enabled by name. Raw HTML,
// headings, tables, images (no remote loads), rules and reference definitions stay off: they show as typed.
// Entities stay off too, so `&lt;` shows as typed rather than as "<".
const md = markdownit("zero", {html: false, linkify: true, typographer: false, breaks: true})
  .enable(["code", "fence", "blockquote", "list",
    "newline", "escape", "backticks", "strikethrough", "emphasis", "link", "autolink", "linkify"]);

// Only these become links; anything else (javascript:, data:, relative paths, ftp:) stays text.
const LINK = /^(https?:|mailto:)/i;
md.validateLink = (url) => LINK.test(url.trim());

/** The message's markdown-it block tokens (inline ones under each `inline` token's `children`). */
export function parseMarkdown(text) {
  return md.parse(text || "", {});
}

/** The words of a message without its markers, on one line: for previews, snippets and notifications. */
export function plainText(text) {
  const words = [];
  const walk = (tokens) => {
    for (const token of tokens) {
      if (token.children) walk(token.children);
      else if (token.type === "text" || token.type === "code_inline") words.push(token.content);
      else if (token.type === "code_block" || token.type === "fence") words.push(" ", token.content, " ");
      else if (token.type === "softbreak" || token.type === "hardbreak" || token.block) words.push(" ");
    }
  };
  walk(parseMarkdown(text));
  return words.join("").replace(/\s+/g, " ").trim();
}
