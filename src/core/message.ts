/** Every algorithm's messages are a discriminated union on `type`. */
export interface Message {
  readonly type: string;
}
