/** The value of an `Authorization` header with HTTP Basic credentials. */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Request headers carrying HTTP Basic credentials. */
export function basicHeaders(user: string, password: string): { authorization: string } {
  return { authorization: basicAuthorization(user, password) };
}
