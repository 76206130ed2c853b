/** A command group of the rookery command: `rookery NAME VERB ...`. */
export interface CommandGroup {
  name: string;
  /** One line for `rookery help`. */
  summary: string;
  /** The usage lines shown by `rookery NAME help` and with mistakes. */
  usage: string[];
  run(args: string[]): Promise<void>;
}
