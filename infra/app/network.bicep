// The private network behind restrictPublicNetworkAccess: a VNet whose `app` subnet the function app joins (Flex
// Consumption VNet integration) and whose `private-endpoints` subnet holds one private endpoint per service the
// function reaches with public access off (storage blob, queue and table, both vaults, the Event Grid topic), each
// with its private DNS zone linked to the VNet, so the services' usual host names resolve to private addresses from
// inside. The function app itself stays public: Dataverse and Salesforce call it from the internet.
// The shape is Azure-Samples/functions-quickstart-python-http-azd's (infra/app/vnet.bicep, storage-PrivateEndpoint.bicep).
param name string
@description('Prefix of the private endpoints\' names.')
param endpointNamePrefix string
param location string
param tags object = {}
@description('The VNet\'s address space: the app subnet is its first /24, the endpoints\' subnet its second. Change it if the VNet is to be peered with a network that uses 10.0.0.0/16.')
param addressPrefix string = '10.0.0.0/16'
param storageAccountId string
param passwordVaultId string
param tokenVaultId string
param topicId string

// The private DNS zone of each private-link group ("Azure Private Endpoint private DNS zone values", Microsoft).
// Key Vault's is privatelink.vaultcore.azure.net in the public cloud; Event Grid has no environment() suffix, and
// the regions main.bicep allows are all in the public cloud.
var zones = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  table: 'privatelink.table.${environment().suffixes.storage}'
  vault: 'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}'
  topic: 'privatelink.eventgrid.azure.net'
}

var endpoints = [
  { name: 'blob', target: storageAccountId, group: 'blob' }
  { name: 'queue', target: storageAccountId, group: 'queue' }
  { name: 'table', target: storageAccountId, group: 'table' }
  { name: 'password-vault', target: passwordVaultId, group: 'vault' }
  { name: 'token-vault', target: tokenVaultId, group: 'vault' }
  { name: 'topic', target: topicId, group: 'topic' }
]

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        // Flex Consumption: delegated to Microsoft.App/environments, used by nothing else, no underscore in its name;
        // an app takes up to 40 addresses (articles/azure-functions/flex-consumption-how-to.md).
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          delegations: [{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]
          // Partner Center, Entra ID and Application Insights stay on the internet. Subnets are private by default
          // from network API 2025-07-01: say it, or attach a NAT gateway for a fixed egress address.
          defaultOutboundAccess: true
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          privateEndpointNetworkPolicies: 'Disabled'
          defaultOutboundAccess: false
        }
      }
    ]
  }
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for zone in items(zones): {
    name: zone.value
    location: 'global'
    tags: tags
  }
]

resource dnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (zone, i) in items(zones): {
    parent: dnsZones[i]
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: {
      virtualNetwork: { id: vnet.id }
      registrationEnabled: false
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in endpoints: {
    name: '${endpointNamePrefix}-${endpoint.name}'
    location: location
    tags: tags
    properties: {
      subnet: { id: resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'private-endpoints') }
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: { privateLinkServiceId: endpoint.target, groupIds: [endpoint.group] }
        }
      ]
    }
  }
]

// Each endpoint writes its A record into its group's zone.
resource dnsZoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: endpoint.group
          properties: { privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', zones[endpoint.group]) }
        }
      ]
    }
    dependsOn: [dnsZones]
  }
]

output id string = vnet.id
output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'app')
