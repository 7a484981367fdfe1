"""The classroom's echo client: N threads connect at once, each sends one message without a newline,
prints what recv(1024) returns, and closes. Usage: classroom_client.py HOST PORT [N]"""
import sys
from socket import AF_INET, SOCK_STREAM, socket
from threading import Thread

host, port = sys.argv[1], int(sys.argv[2])
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 20
replies = {}


class Client(Thread):
    def __init__(self, client_id):
        Thread.__init__(self)
        self.client_id = client_id

    def run(self):
        connection = socket(AF_INET, SOCK_STREAM)
        connection.settimeout(20)
        connection.connect((host, port))
        message = 'Ola mundo da internet! {}'.format(self.client_id).encode()
        connection.send(message)
        data = connection.recv(1024)
        print('Cliente {} recebeu: {}'.format(self.client_id, data), flush=True)
        replies[self.client_id] = (message, data)
        connection.close()


threads = [Client(i) for i in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()

good = sum(1 for message, data in replies.values() if message == data)
print('{} of {} clients got their message back'.format(good, clients))
sys.exit(0 if good == clients else 1)
