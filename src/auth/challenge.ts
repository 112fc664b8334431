/**
 * A WWW-Authenticate value naming `realm` (auth.realm). The realm is written into a quoted string,
 * so quotes and backslashes are dropped from it rather than escaped: clients differ in how they
 * read escapes, and a realm needs neither.
 */
export function challenge(scheme: 'Basic' | 'Bearer', realm: string): string {
  const quoted = `realm="${realm.replace(/["\\]/g, '')}"`;
  // RFC 7617: the charset parameter tells a Basic client to send UTF-8 user names and passwords.
  return scheme === 'Basic' ? `Basic ${quoted}, charset="UTF-8"` : `Bearer ${quoted}`;
}
