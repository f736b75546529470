/** The mqtt.js device connections a test file opens to a real server, kept so that its hooks can end them all. */
import type { IClientOptions, MqttClient } from 'mqtt';
import { connectDevice } from '../../server/testing/test-server.js';

/** A list of device connections: `connect` opens one (connectDevice) and keeps it, `endAll` force-ends and forgets them. */
export function deviceClients() {
  const open: MqttClient[] = [];
  return {
    async connect(url: string, id: string, secret: string, options: IClientOptions = {}): Promise<MqttClient> {
      const client = await connectDevice(url, id, secret, options);
      open.push(client);
      return client;
    },
    endAll(): void {
      for (const client of open.splice(0)) client.end(true);
    },
  };
}
