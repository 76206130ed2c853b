/**
 * One logger for the process. Level from ROOKERY_LOG_LEVEL (default "info");
 * tests run with "silent" unless asked otherwise. Logs go to stderr so that
 * command output on stdout stays clean for scripts.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string): Logger {
  const level = process.env.ROOKERY_LOG_LEVEL ?? 'info';
  return pino({ name, level }, pino.destination(2));
}
