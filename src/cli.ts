/** argv → options → run the emperor, the app server or a control command. The only place that exits. */
export function main(argv: string[]): void {
  process.stdout.write(`kaiser (skeleton) ${argv.join(' ')}\n`);
}
