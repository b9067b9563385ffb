import type { ServiceOptions } from '@fleet/chassis';

export interface HelloConfig {
  greeting: string;
}

/** The hello service: one public route, one authenticated route, one metric. */
export const hello: ServiceOptions<HelloConfig> = {
  name: 'hello',
  version: '0.1.0',
  config: {
    greeting: { doc: 'Greeting word', format: String, default: 'hello', env: 'GREETING' },
  },
  routes(app, service) {
    const greetings = service.metrics.counter({ name: 'hello_greetings_total', help: 'Greetings served' });
    app.get<{ Params: { id: string } }>('/hello/:id', async (request) => {
      greetings.inc();
      return { message: `${service.config.greeting}, ${request.params.id}` };
    });
    app.get('/whoami', { auth: true }, async (request) => ({ subject: request.principal?.subject }));
  },
};
