// Accounts the setup project creates and the specs sign in with.
export const ADMIN = { username: "admin", password: "correct horse battery staple" };
export const VIEWER = { username: "viewer", password: "viewer password 123" };
