// Canned responses' variables, filled in where the console inserts one (typed /shortcut or
// the assist panel's "Insert"): {{contact.name}}, {{contact.email}}, {{agent.name}},
// {{conversation.number}}. An unknown or empty variable stays as written, so the agent sees it.

export const CANNED_VARIABLES = ["contact.name", "contact.email", "agent.name", "conversation.number"];

export function expandCanned(body, { contact, agent, conversation } = {}) {
  const values = {
    "contact.name": contact?.name || "",
    "contact.email": contact?.email || "",
    "agent.name": agent?.display_name || "",
    "conversation.number": conversation?.number || "",
  };
  return body.replace(/\{\{\s*([a-z]+\.[a-z_]+)\s*\}\}/g, (whole, key) => values[key] || whole);
}
