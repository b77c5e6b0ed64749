"""A legacy "delivery route planner": roads in a graph, shortest routes and busy junctions.

It uses networkx as its documentation says and knows nothing about capturing.
"""

import networkx as nx

ROADS = [("depot", "a", 4), ("a", "b", 3), ("depot", "c", 9), ("c", "b", 1), ("b", "shop", 2)]


def main() -> None:
    roads = nx.Graph()
    for start, end, km in ROADS:
        roads.add_edge(start, end, km=km)
    print("route:", nx.shortest_path(roads, "depot", "shop", weight="km"))
    print("hops:", nx.shortest_path(roads, "depot", "shop"))
    busy = nx.degree_centrality(roads)
    print("busiest:", sorted(busy.items(), key=lambda item: (-item[1], item[0]))[:2])
    print("density:", round(nx.density(roads), 3))


if __name__ == "__main__":
    main()
