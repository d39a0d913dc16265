// The topic the outcome events go to: CloudEvents 1.0 input schema, Entra-only (local auth disabled). Only the
// function publishes to it, so with restrictPublicNetworkAccess it takes events only through its private endpoint
// (network.bicep); delivery to subscribers is outbound and unaffected.
param name string
param location string
param tags object = {}
@description('Refuse publishing on the public endpoint; off keeps today\'s public access.')
param restrictPublicNetworkAccess bool = false

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: restrictPublicNetworkAccess ? 'Disabled' : 'Enabled'
  }
}

output name string = topic.name
output id string = topic.id
output endpoint string = topic.properties.endpoint
